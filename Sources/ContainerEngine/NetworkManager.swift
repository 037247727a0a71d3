import Foundation
import ImageStore
import SystemSupport

/// Creates bridge networks and attaches containers to them, keeping the host clean.
///
/// Per network: a bridge with the subnet's first address, NAT (MASQUERADE) for traffic leaving
/// the subnet, FORWARD accepts for the bridge. Per container: a veth pair, the peer moved into
/// the container's network namespace as `eth0` with a leased address and a default route; `-p`
/// adds DNAT rules in the `BERTH` nat chain (reached from PREROUTING and OUTPUT for local
/// destinations, so the host itself and 127.0.0.1 reach published ports, as docker without its
/// userland proxy). Everything added is removed by `detach`; leases and rules are recorded so a
/// crashed `berth` is cleaned up later.
public struct NetworkManager: Sendable {
    public let paths: EnginePaths

    public init(paths: EnginePaths) { self.paths = paths }

    static let chain = "BERTH"

    // MARK: networks

    public func create(name: String, subnet: IPv4Subnet?) throws -> BridgeNetwork {
        guard name.range(of: #"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$"#, options: .regularExpression) != nil,
              !["none", "host", "bridge"].contains(name), !name.hasPrefix("container:") else {
            throw EngineError.invalidOption("invalid network name \"\(name)\"")
        }
        return try locked {
            if FileManager.default.fileExists(atPath: paths.network(name)) { throw EngineError.networkExists(name) }
            let existing = try allUnlocked()
            let chosen = try subnet ?? freeSubnet(avoiding: existing)
            if let clash = existing.first(where: { $0.subnet.overlaps(chosen) }) {
                throw EngineError.invalidOption("subnet \(chosen) overlaps network \(clash.name) (\(clash.subnet))")
            }
            let network = BridgeNetwork(name: name, bridge: NetworkManager.bridgeName(for: name), subnet: chosen)
            try save(network)
            return network
        }
    }

    public func list() throws -> [BridgeNetwork] { try locked { try allUnlocked() } }

    public func remove(name: String) throws {
        try locked {
            let network = try loadUnlocked(name)
            guard network.leases.isEmpty else { throw EngineError.networkInUse(name) }
            teardownBridge(network)
            try FileManager.default.removeItem(atPath: paths.network(name))
        }
    }

    /// The network named `name`; the default one is created on first use.
    func network(named name: String) throws -> BridgeNetwork {
        try locked { try loadUnlocked(name) }
    }

    // MARK: containers

    /// Leases an address, sets up the bridge if needed, and wires the namespace of `pid` to it.
    /// `persist` records the attachment before anything is added to the host, so that a
    /// supervisor dying half-way leaves a record from which `detach` removes it all.
    public func attach(container id: String, pid: Int32, network name: String, ports: [PortMapping],
                       persist: (ContainerRecord.Attachment) throws -> Void) throws -> ContainerRecord.Attachment {
        let (network, address) = try locked { () throws -> (BridgeNetwork, IPv4Address) in
            var network = try loadUnlocked(name)
            let address = try network.lease(to: id)
            try save(network)
            return (network, address)
        }
        let host = NetworkManager.hostInterface(for: id)
        let attachment = ContainerRecord.Attachment(mode: name, address: address.description, gateway: network.gateway.description,
                                                    prefixLength: network.subnet.prefixLength, hostInterface: host, ports: ports)
        do {
            try persist(attachment)
            try ensureBridge(network)
            try HostCommand.run([HostCommand.ip, "-batch", "-"], input: """
                link add \(host) type veth peer name c\(host)
                link set c\(host) netns \(pid)
                link set \(host) master \(network.bridge) up

                """)
            try HostCommand.run([HostCommand.nsenter, "--net=/proc/\(pid)/ns/net", HostCommand.ip, "-batch", "-"], input: """
                link set c\(host) name eth0
                addr add \(address)/\(network.subnet.prefixLength) dev eth0
                link set eth0 up
                route add default via \(network.gateway)

                """)
            for port in ports { try HostCommand.run(dnat(port, to: address, add: true)) }
        } catch {
            detach(container: id, attachment: attachment)
            throw error
        }
        return attachment
    }

    /// Undoes `attach`; safe to repeat (crash recovery runs it again).
    public func detach(container id: String, attachment: ContainerRecord.Attachment) {
        if let address = attachment.address.flatMap(IPv4Address.init) {
            for port in attachment.ports {
                _ = try? HostCommand.run(dnat(port, to: address, add: false), allowFailure: true)
            }
        }
        if let host = attachment.hostInterface {
            _ = try? HostCommand.run([HostCommand.ip, "link", "del", host], allowFailure: true)
        }
        _ = try? locked {
            guard var network = try? loadUnlocked(attachment.mode) else { return }
            network.release(id)
            try save(network)
        }
    }

    // MARK: host plumbing

    private func ensureBridge(_ network: BridgeNetwork) throws {
        let ip = HostCommand.ip
        if !FileManager.default.fileExists(atPath: "/sys/class/net/\(network.bridge)") {
            // -force: another `berth run` may be creating the same bridge right now ("File exists").
            _ = try HostCommand.run([ip, "-force", "-batch", "-"], input: """
                link add \(network.bridge) type bridge
                addr add \(network.gateway)/\(network.subnet.prefixLength) dev \(network.bridge)
                link set \(network.bridge) up

                """, allowFailure: true)
            guard FileManager.default.fileExists(atPath: "/sys/class/net/\(network.bridge)") else {
                throw EngineError.networkSetup("bridge \(network.bridge) could not be created")
            }
        }
        HostCommand.writeSysctl("/proc/sys/net/ipv4/ip_forward", "1")
        // DNAT of 127.0.0.1 to a bridge address needs loopback-sourced packets routed out.
        HostCommand.writeSysctl("/proc/sys/net/ipv4/conf/\(network.bridge)/route_localnet", "1")
        let subnet = network.subnet.description
        // The loopback guard is added last: when it is there, so are the others, and a container
        // start costs one iptables run instead of eight.
        let canary = NetworkManager.localnetGuard(network)
        if try HostCommand.run([HostCommand.iptables, "-w", "-t", "raw", "-C", "PREROUTING"] + canary, allowFailure: true) == 0 {
            return
        }
        _ = try? HostCommand.run([HostCommand.iptables, "-w", "-t", "nat", "-N", NetworkManager.chain], allowFailure: true)
        let local = ["-m", "addrtype", "--dst-type", "LOCAL", "-j", NetworkManager.chain]
        try HostCommand.ensureRule(table: "nat", chain: "PREROUTING", local)
        try HostCommand.ensureRule(table: "nat", chain: "OUTPUT", local)
        try HostCommand.ensureRule(table: "nat", chain: "POSTROUTING", ["-s", "127.0.0.0/8", "-o", network.bridge, "-j", "MASQUERADE"])
        try HostCommand.ensureRule(table: "filter", chain: "FORWARD", ["-i", network.bridge, "-j", "ACCEPT"], insert: true)
        try HostCommand.ensureRule(table: "filter", chain: "FORWARD", ["-o", network.bridge, "-j", "ACCEPT"], insert: true)
        try HostCommand.ensureRule(table: "nat", chain: "POSTROUTING", ["-s", subnet, "!", "-o", network.bridge, "-j", "MASQUERADE"])
        // route_localnet would otherwise let a container reach the host's 127.0.0.1-only services
        // by sending to 127.0.0.0/8 through its gateway (CVE-2020-8558); docker drops these too.
        try HostCommand.ensureRule(table: "raw", chain: "PREROUTING", canary, insert: true)
    }

    private func teardownBridge(_ network: BridgeNetwork) {
        let subnet = network.subnet.description
        HostCommand.deleteRule(table: "nat", chain: "POSTROUTING", ["-s", subnet, "!", "-o", network.bridge, "-j", "MASQUERADE"])
        HostCommand.deleteRule(table: "nat", chain: "POSTROUTING", ["-s", "127.0.0.0/8", "-o", network.bridge, "-j", "MASQUERADE"])
        HostCommand.deleteRule(table: "raw", chain: "PREROUTING", NetworkManager.localnetGuard(network))
        HostCommand.deleteRule(table: "filter", chain: "FORWARD", ["-i", network.bridge, "-j", "ACCEPT"])
        HostCommand.deleteRule(table: "filter", chain: "FORWARD", ["-o", network.bridge, "-j", "ACCEPT"])
        _ = try? HostCommand.run([HostCommand.ip, "link", "del", network.bridge], allowFailure: true)
    }

    private func dnat(_ port: PortMapping, to address: IPv4Address, add: Bool) -> [String] {
        var rule = [HostCommand.iptables, "-w", "-t", "nat", add ? "-A" : "-D", NetworkManager.chain, "-p", port.proto]
        if let ip = port.hostIP { rule += ["-d", ip] }
        rule += ["--dport", String(port.hostPort), "-j", "DNAT", "--to-destination", "\(address):\(port.containerPort)"]
        return rule
    }

    // MARK: records

    private func locked<T>(_ body: () throws -> T) throws -> T {
        let lock = try FileLock(path: paths.networksLock, exclusive: true)
        defer { withExtendedLifetime(lock) {} }
        return try body()
    }

    private func loadUnlocked(_ name: String) throws -> BridgeNetwork {
        if let data = FileManager.default.contents(atPath: paths.network(name)) {
            return try JSONDecoder().decode(BridgeNetwork.self, from: data)
        }
        guard name == BridgeNetwork.defaultName else { throw EngineError.noSuchNetwork(name) }
        let network = BridgeNetwork(name: name, bridge: name, subnet: BridgeNetwork.defaultSubnet)
        try save(network)
        return network
    }

    private func allUnlocked() throws -> [BridgeNetwork] {
        var names = Set(((try? FileManager.default.contentsOfDirectory(atPath: paths.networks)) ?? [])
            .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) })
        names.insert(BridgeNetwork.defaultName)
        return try names.sorted().map(loadUnlocked)
    }

    private func save(_ network: BridgeNetwork) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try POSIX.writeFileAtomically(paths.network(network.name), Array(try encoder.encode(network)), mode: 0o600)
    }

    private func freeSubnet(avoiding networks: [BridgeNetwork]) throws -> IPv4Subnet {
        for third in 1...255 {
            guard let candidate = IPv4Subnet("10.118.\(third).0/24") else { continue }
            if !networks.contains(where: { $0.subnet.overlaps(candidate) }) { return candidate }
        }
        throw EngineError.invalidOption("no free subnet in 10.118.0.0/16: pass --subnet")
    }

    /// Packets from the bridge to loopback addresses are dropped before routing.
    static func localnetGuard(_ network: BridgeNetwork) -> [String] {
        ["-i", network.bridge, "-d", "127.0.0.0/8", "-j", "DROP"]
    }

    /// Interface names are limited to 15 bytes: a prefix of berth's own and part of a hash, so
    /// a network called `br0` or `docker0` never adopts (and `network rm` never deletes) a host
    /// interface of that name.
    static func bridgeName(for network: String) -> String {
        "bt-" + String(ContainerStore.hexHash(network).prefix(12))
    }

    static func hostInterface(for container: String) -> String { "vb" + String(container.prefix(10)) }
}
