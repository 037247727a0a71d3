import ArgumentParser
import Foundation
import ImageStore
import ImageTransfer
import OCI
import RegistryClient

/// `berth pull REF`: registry to local store.
struct Pull: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pull", abstract: "Pull an image into the local store.")

    @Argument(help: "Image reference, e.g. localhost:5000/app:1.0.", transform: parseReference)
    var reference: ImageReference

    @Option(help: "Platform os/arch[/variant] to pull from a multi-platform image (default: this machine).")
    var platform: String?

    @OptionGroup var transfer: TransferOptions
    @OptionGroup var registry: RegistryOptions

    func run() async throws {
        guard let wanted = platform.map({ Platform(parsing: $0) }) ?? Platform.current else {
            throw ValidationError("--platform must be os/arch[/variant]")
        }
        let (reference, transfer) = (self.reference, self.transfer)
        try await withContext(registry.security) { context in
            let progress = ProgressDisplay(quiet: transfer.quiet)
            if !transfer.quiet { Terminal.info("Pulling \(reference)") }
            let puller = ImagePuller(client: try context.client(for: reference.host), store: try context.store(),
                                     jobs: transfer.jobs, progress: progress)
            try await puller.pull(reference, platform: wanted)
        }
    }
}

/// `berth push REF`: local store to registry.
struct Push: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "push", abstract: "Push an image from the local store.")

    @Argument(help: "Image reference in the local store.", transform: parseReference)
    var reference: ImageReference

    @Option(help: "Upload blobs larger than this in PATCH chunks of this size (e.g. 64M).")
    var chunkSize = ByteCount(bytes: 128 << 20)

    @OptionGroup var transfer: TransferOptions
    @OptionGroup var registry: RegistryOptions

    func run() async throws {
        let (reference, transfer, chunk) = (self.reference, self.transfer, chunkSize.bytes)
        try await withContext(registry.security) { context in
            let progress = ProgressDisplay(quiet: transfer.quiet)
            if !transfer.quiet { Terminal.info("Pushing \(reference)") }
            let pusher = ImagePusher(client: try context.client(for: reference.host), store: try context.store(),
                                     jobs: transfer.jobs, chunkSize: chunk, progress: progress)
            try await pusher.push(reference, as: reference)
        }
    }
}

/// `berth copy SRC DST`: registry to registry, streamed, mounting when on the same registry.
struct Copy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "copy", abstract: "Copy an image between registries without the local store.")

    @Argument(help: "Source reference.", transform: parseReference)
    var source: ImageReference

    @Argument(help: "Destination reference.", transform: parseReference)
    var destination: ImageReference

    @Option(help: "Copy only this platform's manifest of a multi-platform image (default: all).")
    var platform: String?

    @OptionGroup var transfer: TransferOptions
    @OptionGroup var registry: RegistryOptions

    func run() async throws {
        var wanted: Platform?
        if let platform {
            guard let p = Platform(parsing: platform) else { throw ValidationError("--platform must be os/arch[/variant]") }
            wanted = p
        }
        let (source, destination, transfer, chosen) = (self.source, self.destination, self.transfer, wanted)
        try await withContext(registry.security) { context in
            let progress = ProgressDisplay(quiet: transfer.quiet)
            if !transfer.quiet { Terminal.info("Copying \(source) to \(destination)") }
            let from = try context.client(for: source.host)
            let to = source.host == destination.host ? from : try context.client(for: destination.host)
            let copier = ImageCopier(source: from, destination: to, jobs: transfer.jobs, progress: progress)
            try await copier.copy(source, to: destination, platform: chosen)
        }
    }
}
