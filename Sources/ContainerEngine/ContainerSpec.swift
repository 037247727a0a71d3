import Foundation

/// What `berth run` was asked for, before it is resolved against the image.
public struct ContainerSpec: Sendable {
    public var image: String
    public var command: [String] = []
    public var entrypoint: String?
    public var name: String?
    public var env: [String] = []
    public var workdir: String?
    public var user: String?
    public var hostname: String?
    public var mounts: [ContainerRecord.Mount] = []
    public var readOnly = false
    public var limits = ContainerRecord.Limits()
    /// `none`, `host`, `bridge` (the default network), `container:NAME` or a network's name.
    public var network = "bridge"
    public var ports: [PortMapping] = []
    public var tty = false
    public var interactive = false
    public var autoRemove = false
    public var detached = false

    public init(image: String) { self.image = image }

    /// `-v HOST:CTR[:ro|rw]`; HOST must be absolute and exist, CTR absolute.
    public static func parseVolume(_ text: String) throws -> ContainerRecord.Mount {
        var parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var readOnly = false
        if parts.count == 3, ["ro", "rw"].contains(parts[2]) {
            readOnly = parts.removeLast() == "ro"
        }
        guard parts.count == 2, parts[0].hasPrefix("/"), parts[1].hasPrefix("/") else {
            throw EngineError.invalidOption("-v \(text): expected /HOST/PATH:/CONTAINER/PATH[:ro]")
        }
        guard FileManager.default.fileExists(atPath: parts[0]) else {
            throw EngineError.invalidOption("-v \(text): \(parts[0]) does not exist")
        }
        return .init(source: parts[0], destination: parts[1], readOnly: readOnly)
    }

    /// `--memory 64m`: bytes with an optional b/k/m/g suffix.
    public static func parseBytes(_ text: String) throws -> Int64 {
        let lower = text.lowercased()
        let units: [Character: Int64] = ["b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30]
        var digits = Substring(lower)
        var unit: Int64 = 1
        if let last = lower.last, let scale = units[last] {
            unit = scale
            digits = digits.dropLast()
        }
        guard let value = Int64(digits), value > 0, value <= Int64.max / unit else {
            throw EngineError.invalidOption("invalid size \"\(text)\": expected a number with b, k, m or g")
        }
        return value * unit
    }
}
