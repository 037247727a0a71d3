import ArgumentParser
import OCI
import RegistryClient

/// Options every registry-facing command shares.
struct RegistryOptions: ParsableArguments {
    @Flag(help: "Allow plain HTTP (and no TLS verification) for registries other than localhost.")
    var insecure = false

    @Option(help: "Directory of per-registry certificates, as Docker's certs.d.")
    var certsDir = "/etc/docker/certs.d"

    var security: TransportSecurity { TransportSecurity(certsDirectory: certsDir, insecure: insecure) }
}

/// Options of commands that move blobs.
struct TransferOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Blobs transferred in parallel.")
    var jobs = 4

    @Flag(name: [.short, .long], help: "Print only the resulting digest.")
    var quiet = false
}

/// Parses sizes like `64M`, `1G`, `512k` or plain bytes.
struct ByteCount: ExpressibleByArgument {
    let bytes: Int64

    init?(argument: String) {
        let units: [Character: Int64] = ["k": 1 << 10, "K": 1 << 10, "m": 1 << 20, "M": 1 << 20, "g": 1 << 30, "G": 1 << 30]
        var text = argument
        if text.hasSuffix("iB") || text.hasSuffix("B") { text = String(text.dropLast(text.hasSuffix("iB") ? 2 : 1)) }
        var multiplier: Int64 = 1
        if let last = text.last, let unit = units[last] {
            multiplier = unit
            text.removeLast()
        }
        guard let value = Int64(text), value > 0 else { return nil }
        bytes = value * multiplier
    }

    init(bytes: Int64) { self.bytes = bytes }
    var defaultValueDescription: String { "\(bytes / (1 << 20))M" }
}

/// Parses a reference argument, so a bad one is reported with the grammar rule it broke.
@Sendable func parseReference(_ text: String) throws -> ImageReference {
    do {
        return try ImageReference(parsing: text)
    } catch {
        throw ValidationError(error.description)
    }
}
