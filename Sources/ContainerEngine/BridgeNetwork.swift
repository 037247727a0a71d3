import Foundation

/// A bridge network: a Linux bridge, its subnet and the addresses leased to containers.
public struct BridgeNetwork: Codable, Sendable {
    public var name: String
    public var bridge: String
    public var subnet: IPv4Subnet
    /// Leased address -> container ID.
    public var leases: [String: String] = [:]

    public static let defaultName = "berth0"
    public static let defaultSubnet = IPv4Subnet("10.118.0.0/24")!

    public var gateway: IPv4Address { subnet.gateway }

    /// The lowest free address, leased to `container`.
    public mutating func lease(to container: String) throws -> IPv4Address {
        if let held = leases.first(where: { $0.value == container }), let address = IPv4Address(held.key) { return address }
        for value in subnet.hosts where leases[IPv4Address(value).description] == nil {
            leases[IPv4Address(value).description] = container
            return IPv4Address(value)
        }
        throw EngineError.subnetExhausted(name)
    }

    public mutating func release(_ container: String) {
        leases = leases.filter { $0.value != container }
    }
}
