/// An IPv4 address and the subnet arithmetic the bridge networks need.
public struct IPv4Address: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard part.count <= 3, let octet = UInt8(part) else { return nil }
            value = value << 8 | UInt32(octet)
        }
        self.value = value
    }

    public var description: String {
        (0..<4).map { String((value >> (24 - 8 * $0)) & 0xff) }.joined(separator: ".")
    }

    public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.value < b.value }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let address = IPv4Address(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an IPv4 address"))
        }
        self = address
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// `a.b.c.d/n`, normalised to its network address; prefixes 8...30 (a bridge needs hosts).
public struct IPv4Subnet: Hashable, Sendable, CustomStringConvertible, Codable {
    public let network: IPv4Address
    public let prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let address = IPv4Address(String(parts[0])), let length = Int(parts[1]),
              (8...30).contains(length) else { return nil }
        let mask: UInt32 = length == 0 ? 0 : ~UInt32(0) << (32 - length)
        network = IPv4Address(address.value & mask)
        prefixLength = length
    }

    public var description: String { "\(network)/\(prefixLength)" }
    /// The bridge's own address: the first host.
    public var gateway: IPv4Address { IPv4Address(network.value + 1) }
    /// Addresses for containers: after the gateway, before broadcast.
    public var hosts: ClosedRange<UInt32> { (network.value + 2)...(network.value + (UInt32(1) << (32 - prefixLength)) - 2) }

    public func contains(_ address: IPv4Address) -> Bool {
        let mask: UInt32 = ~UInt32(0) << (32 - prefixLength)
        return address.value & mask == network.value
    }

    public func overlaps(_ other: IPv4Subnet) -> Bool { contains(other.network) || other.contains(network) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let subnet = IPv4Subnet(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a subnet"))
        }
        self = subnet
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
