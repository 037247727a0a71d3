import ArgumentParser
import Foundation
import ImageStore
import OCI
import RegistryClient

/// `berth tag SRC DST`: another name for a stored image.
struct Tag: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tag", abstract: "Give a stored image another name.")

    @Argument(help: "Existing image in the local store.", transform: parseReference)
    var source: ImageReference

    @Argument(help: "New name.", transform: parseReference)
    var target: ImageReference

    func run() async throws {
        let (source, target) = (self.source, self.target)
        try await withContext { context in
            let store = try context.store()
            guard let descriptor = try store.resolve(source) else { throw StoreError.imageUnknown(source.description) }
            try store.setReference(target, to: descriptor)
        }
    }
}

/// `berth images`: what the local store holds.
struct Images: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "images", abstract: "List images in the local store.")

    @Flag(name: [.short, .long], help: "Print only digests.")
    var quiet = false

    func run() async throws {
        let quiet = self.quiet
        try await withContext { context in
            let store = try context.store()
            var rows = [["REPOSITORY", "TAG", "DIGEST", "SIZE"]]
            for image in try store.images() {
                if quiet { print(image.descriptor.digest); continue }
                let (name, tag) = Images.split(image.name)
                rows.append([name, tag, image.descriptor.digest.description, ProgressDisplay.bytes(Images.size(of: image, in: store))])
            }
            if !quiet { print(Images.table(rows)) }
        }
    }

    /// Splits `host/repo:tag` (or `@digest`) for display.
    static func split(_ name: String) -> (String, String) {
        if let ref = try? ImageReference(parsing: name) {
            return (ref.name, ref.tag?.value ?? "<none>")
        }
        return (name, "<none>")
    }

    /// Manifest, config and layers; children's too for an index.
    static func size(of image: StoredImage, in store: ImageStore) -> Int64 {
        ((try? store.reachableBlobs(from: image.descriptor)) ?? []).reduce(0) { $0 + (store.blobSize($1) ?? 0) }
    }

    /// Left-aligned columns.
    static func table(_ rows: [[String]]) -> String {
        guard let first = rows.first else { return "" }
        let widths = first.indices.map { i in rows.map { $0[i].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i] + 3, withPad: " ", startingAt: 0)
            }.joined()
        }.joined(separator: "\n")
    }
}

/// `berth rmi REF`: removes a name; blobs no other name uses are deleted.
struct Rmi: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rmi", abstract: "Remove an image from the local store.")

    @Argument(help: "Image reference.", transform: parseReference)
    var references: [ImageReference]

    func run() async throws {
        let references = self.references
        try await withContext { context in
            let store = try context.store()
            for reference in references {
                guard let removed = try store.removeReference(reference) else {
                    throw StoreError.imageUnknown(reference.description)
                }
                print("Untagged: \(reference) (\(removed.digest))")
            }
            if let (count, bytes) = try store.collectGarbage() {
                print("Deleted \(count) blobs, \(ProgressDisplay.bytes(bytes))")
            } else {
                Terminal.info("another berth is writing to the store; unused blobs are left for the next rmi")
            }
        }
    }
}
