import ArgumentParser
import ContainerEngine
import Foundation

/// `berth network create|ls|rm`: bridge networks (the default is `berth0`).
struct Network: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network", abstract: "Manage bridge networks.", subcommands: [Create.self, List.self, Remove.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a bridge network.")
        @Option(help: "Subnet in CIDR form (default: a free 10.118.N.0/24).") var subnet: String?
        @Argument(help: "Network name.") var name: String

        func run() async throws {
            let name = self.name
            let subnet = try self.subnet.map { text -> IPv4Subnet in
                guard let subnet = IPv4Subnet(text) else { throw ValidationError("--subnet \(text): expected a.b.c.d/8..30") }
                return subnet
            }
            try await withEngineContext { _, engine in
                let network = try engine.networks.create(name: name, subnet: subnet)
                print(network.name)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List networks.")

        func run() async throws {
            try await withEngineContext { _, engine in
                var rows = [["NAME", "BRIDGE", "SUBNET", "CONTAINERS"]]
                for network in try engine.networks.list() {
                    rows.append([network.name, network.bridge, network.subnet.description, String(network.leases.count)])
                }
                printTable(rows)
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove networks.")
        @Argument(help: "Network names.") var names: [String]

        func run() async throws {
            let names = self.names
            try await withEngineContext { _, engine in
                for name in names {
                    try engine.networks.remove(name: name)
                    print(name)
                }
            }
        }
    }
}
