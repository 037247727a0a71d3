import ArgumentParser
import Foundation
import OCI
import RegistryClient

/// `berth tags REPO`: a repository's tags.
struct Tags: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tags", abstract: "List a repository's tags.")

    @Argument(help: "Repository, e.g. localhost:5000/app.", transform: parseReference)
    var repository: ImageReference

    @OptionGroup var registry: RegistryOptions

    func run() async throws {
        let repository = self.repository
        try await withContext(registry.security) { context in
            for tag in try await context.client(for: repository.host).tags(in: repository.repository) { print(tag) }
        }
    }
}

/// `berth catalog HOST`: the registry's repositories.
struct Catalog: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "catalog", abstract: "List a registry's repositories.")

    @Argument(help: "Registry host.")
    var host: String

    @OptionGroup var registry: RegistryOptions

    func run() async throws {
        let host = Login.normalisedHost(self.host)
        try await withContext(registry.security) { context in
            for name in try await context.client(for: host).catalog() { print(name) }
        }
    }
}

/// `berth delete REF`: deletes a manifest from the registry (a tag is resolved to its digest).
struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete an image's manifest from a registry.")

    @Argument(help: "Image reference.", transform: parseReference)
    var reference: ImageReference

    @OptionGroup var registry: RegistryOptions

    func run() async throws {
        let reference = self.reference
        try await withContext(registry.security) { context in
            let client = try context.client(for: reference.host)
            let scopes = [RegistryClient.scope(reference.repository, "pull,push,delete")]
            var digest = reference.digest
            if digest == nil {
                guard let found = try await client.manifestDescriptor(reference.manifestReference, in: reference.repository,
                                                                      scopes: scopes) else {
                    throw ClientError.registry(status: 404, url: reference.description,
                                               errors: [RegistryErrorDetail(code: "MANIFEST_UNKNOWN", message: nil)])
                }
                digest = found.digest
            }
            guard let digest else { return }
            try await client.deleteManifest(digest, in: reference.repository)
            print("Deleted: \(reference.name)@\(digest)")
        }
    }
}

/// `berth inspect REF`: manifest (or index) and config as JSON.
struct Inspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show a container's record, or an image's manifest and config, as JSON.")

    @Argument(help: "Container name or ID, or image reference.")
    var target: String

    @Option(help: "Platform whose manifest to show for a multi-platform image (default: this machine).")
    var platform: String?

    @Flag(help: "Inspect the image in the local store instead of the registry.")
    var local = false

    @OptionGroup var registry: RegistryOptions

    func run() async throws {
        guard let wanted = platform.map({ Platform(parsing: $0) }) ?? Platform.current else {
            throw ValidationError("--platform must be os/arch[/variant]")
        }
        if let record = ContainerInspection.find(target) {
            print(record)
            return
        }
        let reference = try parseReference(target)
        let local = self.local
        try await withContext(registry.security) { context in
            let source: any ContentSource = local
                ? LocalSource(store: try context.store(), reference: reference)
                : RemoteSource(client: try context.client(for: reference.host), repository: reference.repository)
            let json = try await InspectReport.build(reference: reference, platform: wanted, source: source)
            print(json)
        }
    }
}
