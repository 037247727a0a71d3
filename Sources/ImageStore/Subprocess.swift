import Foundation

/// Runs helper programs (`tar`, `gzip`) and reports failures with their stderr.
enum Subprocess {
    struct Failure: Error, CustomStringConvertible {
        let command: String
        let status: Int32
        let stderr: String
        var description: String { "\(command) failed (exit \(status)): \(stderr)" }
    }

    /// Runs `arguments` (first is the program path); stdout goes to `stdoutPath` when given.
    static func run(_ arguments: [String], stdoutPath: String? = nil) throws {
        guard let program = arguments.first else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = Array(arguments.dropFirst())
        let errPipe = Pipe()
        process.standardError = errPipe
        var output: FileHandle?
        if let stdoutPath {
            guard FileManager.default.createFile(atPath: stdoutPath, contents: nil),
                  let handle = FileHandle(forWritingAtPath: stdoutPath) else {
                throw SystemError("open", stdoutPath)
            }
            output = handle
            process.standardOutput = handle
        }
        try process.run()
        let err = errPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try? output?.close()
        guard process.terminationStatus == 0 else {
            throw Failure(command: arguments.prefix(2).joined(separator: " "), status: process.terminationStatus,
                          stderr: String(decoding: err, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }
}
