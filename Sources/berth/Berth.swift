import ArgumentParser
import OCI

/// `berth`: pushes, pulls and copies container images without a daemon.
@main
struct Berth: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "berth",
        abstract: "Push, pull and copy container images, keep them in a local OCI store, and run them.",
        version: "0.1.0",
        subcommands: [
            Login.self, Logout.self,
            Pull.self, Push.self, Copy.self,
            Tag.self, Images.self, Rmi.self,
            Import.self, Save.self, Load.self,
            Tags.self, Inspect.self, Delete.self, Catalog.self,
            Run.self, Ps.self, Stop.self, Kill.self, Rm.self, Logs.self, Exec.self, Network.self,
            ContainerMonitor.self,
        ]
    )
}
