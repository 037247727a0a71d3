import ArgumentParser
import Foundation
import ImageStore
import OCI
import RegistryClient

/// `berth import TARBALL|DIR REF`: a single-layer image from a root filesystem.
struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import", abstract: "Create an image from a root filesystem (tarball or directory).")

    @Argument(help: "A tar archive (plain or gzip) or a directory holding the root filesystem.")
    var source: String

    @Argument(help: "Name for the new image.", transform: parseReference)
    var reference: ImageReference

    @Option(help: "Platform os/arch[/variant] recorded in the config (default: this machine).")
    var platform: String?

    func run() async throws {
        guard let wanted = platform.map({ Platform(parsing: $0) }) ?? Platform.current else {
            throw ValidationError("--platform must be os/arch[/variant]")
        }
        let (source, reference) = (self.source, self.reference)
        try await withContext { context in
            let store = try context.store()
            let descriptor = try RootfsImporter(store: store).importRootfs(from: source, as: reference, platform: wanted)
            print(descriptor.digest)
        }
    }
}

/// `berth save REF -o FILE`: an OCI layout archive of stored images.
struct Save: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "save", abstract: "Write stored images to an OCI layout tar archive.")

    @Argument(help: "Images to save.", transform: parseReference)
    var references: [ImageReference]

    @Option(name: [.short, .long], help: "Output file.")
    var output: String

    func run() async throws {
        let (references, output) = (self.references, self.output)
        try await withContext { context in
            try LayoutArchive(store: try context.store()).save(references, to: output)
        }
    }
}

/// `berth load -i FILE`: reads an OCI layout archive or a `docker save` archive.
struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "load", abstract: "Load images from an OCI layout or docker save archive.")

    @Option(name: [.short, .long], help: "Input file.")
    var input: String

    func run() async throws {
        let input = self.input
        try await withContext { context in
            for name in try LayoutArchive(store: try context.store()).load(from: input) {
                print("Loaded image: \(name)")
            }
        }
    }
}
