import Foundation

/// Runs the host tools the network setup uses (`ip`, `iptables`, `nsenter`), with their
/// stderr in the error when they fail.
enum HostCommand {
    static let ip = "/usr/sbin/ip"
    static let iptables = "/usr/sbin/iptables"
    static let nsenter = "/usr/bin/nsenter"

    @discardableResult
    static func run(_ arguments: [String], input: String? = nil, allowFailure: Bool = false) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try? stdin.fileHandleForWriting.close()
        }
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        if process.terminationStatus != 0 && !allowFailure {
            throw EngineError.commandFailed(arguments.prefix(4).joined(separator: " "), status: process.terminationStatus,
                                            output: String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return process.terminationStatus
    }

    /// `iptables -C` then `-A`/`-I`: adds a rule once.
    static func ensureRule(table: String, chain: String, _ rule: [String], insert: Bool = false) throws {
        if try run([iptables, "-w", "-t", table, "-C", chain] + rule, allowFailure: true) == 0 { return }
        try run([iptables, "-w", "-t", table, insert ? "-I" : "-A", chain] + rule)
    }

    /// Deletes a rule if present.
    static func deleteRule(table: String, chain: String, _ rule: [String]) {
        _ = try? run([iptables, "-w", "-t", table, "-D", chain] + rule, allowFailure: true)
    }

    static func writeSysctl(_ path: String, _ value: String) {
        try? value.write(toFile: path, atomically: false, encoding: .utf8)
    }
}
