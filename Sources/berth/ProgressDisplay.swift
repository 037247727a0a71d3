import Foundation
import OCI
import RegistryClient
import Synchronization

/// Shows transfer progress: bars per blob on a terminal (bytes, rate, ETA), one line per finished
/// blob otherwise, nothing but the result with `--quiet`. Output goes to stderr; results
/// (digests) to stdout, except for a pull on behalf of `run`/`create`, whose stdout is the
/// container's: there (as Docker does) everything goes to stderr.
final class ProgressDisplay: TransferProgress {
    enum Mode { case bars, lines, quiet }

    private struct Item {
        var label: String
        var total: Int64
        var done: Int64
        var resumedAt: Int64
        var started: ContinuousClock.Instant
        var note: String?
    }

    private struct State {
        var order: [Digest] = []
        var items: [Digest: Item] = [:]
        var drawnLines = 0
        var lastDraw: ContinuousClock.Instant?
    }

    private let mode: Mode
    private let results: FileHandle
    private let state = Mutex(State())

    /// `resultsToStandardError`: for a pull made on the way to running a container.
    init(quiet: Bool, resultsToStandardError: Bool = false) {
        mode = quiet ? .quiet : (Terminal.isTTY(2) ? .bars : .lines)
        results = resultsToStandardError ? .standardError : .standardOutput
    }

    func started(_ id: Digest, total: Int64, completed: Int64, label: String) {
        state.withLock { s in
            if s.items[id] == nil { s.order.append(id) }
            s.items[id] = Item(label: label, total: total, done: completed, resumedAt: completed,
                               started: .now, note: nil)
        }
        if mode == .bars { draw(force: false) }
        if mode == .lines && completed > 0 && completed < total {
            Terminal.info("\(label): resuming at \(Self.bytes(completed))")
        }
    }

    func advanced(_ id: Digest, by bytes: Int64) {
        state.withLock { s in s.items[id]?.done += bytes }
        if mode == .bars { draw(force: false) }
    }

    func finished(_ id: Digest, note: String) {
        let line: String? = state.withLock { s in
            guard var item = s.items[id] else { return nil }
            item.note = note
            item.done = Swift.max(item.done, item.total)
            s.items[id] = item
            let seconds = Self.seconds(since: item.started)
            let moved = item.done - item.resumedAt
            if note == "exists" || note == "mounted" || moved <= 0 { return "\(item.label): \(note)" }
            return "\(item.label): \(note) \(Self.bytes(item.total)) in \(String(format: "%.1f", seconds))s "
                + "(\(Self.bytes(Int64(Double(moved) / Swift.max(seconds, 0.001))))/s)"
        }
        switch mode {
        case .bars: draw(force: true)
        case .lines: if let line { Terminal.info(line) }
        case .quiet: break
        }
    }

    func message(_ text: String) {
        if mode == .bars { draw(force: true) }
        let line = mode == .quiet && text.hasPrefix("Digest: ") ? String(text.dropFirst("Digest: ".count)) : text
        results.write(Data((line + "\n").utf8))
    }

    /// Redraws every bar in place, at most ten times a second unless forced.
    private func draw(force: Bool) {
        let output: String? = state.withLock { s in
            let now = ContinuousClock.now
            if !force, let last = s.lastDraw, now - last < .milliseconds(100) { return nil }
            s.lastDraw = now
            var text = s.drawnLines > 0 ? "\u{1B}[\(s.drawnLines)A" : ""
            for id in s.order {
                guard let item = s.items[id] else { continue }
                text += "\u{1B}[2K" + Self.bar(item) + "\n"
            }
            s.drawnLines = s.order.count
            return text
        }
        if let output { FileHandle.standardError.write(Data(output.utf8)) }
    }

    /// One bar line: `label [=====>    ]  12.0 MiB / 40.0 MiB  35.2 MiB/s  ETA 1s`.
    private static func bar(_ item: Item) -> String {
        if let note = item.note { return "\(item.label): \(note) \(bytes(item.total))" }
        let width = 30
        let fraction = item.total > 0 ? Swift.min(1, Double(item.done) / Double(item.total)) : 0
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "")
            + String(repeating: " ", count: Swift.max(0, width - filled - 1))
        let seconds = seconds(since: item.started)
        let rate = Double(item.done - item.resumedAt) / Swift.max(seconds, 0.001)
        let eta = rate > 0 ? Double(item.total - item.done) / rate : 0
        return "\(item.label): [\(bar)] \(bytes(item.done)) / \(bytes(item.total))  "
            + "\(bytes(Int64(rate)))/s  ETA \(Int(eta.rounded()))s"
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// Human-readable binary size.
    static func bytes(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n)
        var unit = 0
        while abs(value) >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(n) B" : String(format: "%.1f", value) + " " + units[unit]
    }
}
