/// `-p [IP:]HOSTPORT:CTRPORT[/tcp|udp]`: a host port forwarded to the container.
public struct PortMapping: Codable, Sendable, Equatable, CustomStringConvertible {
    public var hostIP: String?
    public var hostPort: UInt16
    public var containerPort: UInt16
    public var proto: String

    public init(parsing text: String) throws {
        var spec = Substring(text)
        var proto = "tcp"
        if let slash = spec.lastIndex(of: "/") {
            proto = String(spec[spec.index(after: slash)...]).lowercased()
            spec = spec[..<slash]
        }
        guard proto == "tcp" || proto == "udp" else { throw EngineError.invalidOption("-p \(text): protocol must be tcp or udp") }
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let bad = EngineError.invalidOption("-p \(text): expected [IP:]HOSTPORT:CONTAINERPORT[/tcp|udp]")
        switch parts.count {
        case 2:
            hostIP = nil
        case 3:
            guard IPv4Address(parts[0]) != nil else { throw bad }
            hostIP = parts[0]
        default:
            throw bad
        }
        guard let host = UInt16(parts[parts.count - 2]), let container = UInt16(parts[parts.count - 1]),
              host > 0, container > 0 else { throw bad }
        hostPort = host
        containerPort = container
        self.proto = proto
    }

    public var description: String { "\(hostIP.map { $0 + ":" } ?? "")\(hostPort)->\(containerPort)/\(proto)" }
}
