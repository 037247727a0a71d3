import Foundation
import ImageStore
import SystemSupport

/// The host tools the network setup uses (`ip`, `iptables`, `nsenter`), run through
/// `Subprocess` (their stderr is in the error when they fail).
enum HostCommand {
    static let ip = "/usr/sbin/ip"
    static let iptables = "/usr/sbin/iptables"
    static let nsenter = "/usr/bin/nsenter"

    @discardableResult
    static func run(_ arguments: [String], input: String? = nil, allowFailure: Bool = false) throws -> Int32 {
        try Subprocess.run(arguments, input: input, allowFailure: allowFailure)
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
