/// An upload session id: a lower-case UUID, so it can be joined into a path.
public struct UploadID: Hashable, Sendable, CustomStringConvertible {
    public let value: String

    public init?(_ text: some StringProtocol) {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return nil }
        for (index, byte) in bytes.enumerated() {
            let isDash = index == 8 || index == 13 || index == 18 || index == 23
            let ok = isDash ? byte == 0x2D : ((byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66))
            if !ok { return nil }
        }
        value = String(text)
    }

    public static func random() -> UploadID {
        var generator = SystemRandomNumberGenerator()
        let hex = Array("0123456789abcdef")
        var text = ""
        for index in 0..<32 {
            if index == 8 || index == 12 || index == 16 || index == 20 { text.append("-") }
            text.append(hex[Int(generator.next() % 16)])
        }
        // 36 characters of lower-case hex and dashes always parse.
        return UploadID(text)!
    }

    public var description: String { value }
}
