import Foundation

/// Runs helper programs (`tar`, `gzip`, `ip`, `iptables`) and reports failures with their stderr.
public enum Subprocess {
    public struct Failure: Error, CustomStringConvertible {
        public let command: String
        public let status: Int32
        public let stderr: String
        public var description: String { "\(command) failed (exit \(status)): \(stderr)" }
    }

    /// Runs `arguments` (first is the program path) and returns its exit status. stdout goes to
    /// `stdoutPath` when given (else nowhere); `input` is written to its stdin; a non-zero status
    /// throws unless `allowFailure`.
    @discardableResult
    public static func run(_ arguments: [String], stdoutPath: String? = nil, input: String? = nil,
                           allowFailure: Bool = false) throws -> Int32 {
        guard let program = arguments.first else { return 0 }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = Array(arguments.dropFirst())
        let errPipe = Pipe()
        process.standardError = errPipe
        process.standardOutput = FileHandle.nullDevice
        var output: FileHandle?
        if let stdoutPath {
            guard FileManager.default.createFile(atPath: stdoutPath, contents: nil),
                  let handle = FileHandle(forWritingAtPath: stdoutPath) else {
                throw SystemError("open", stdoutPath)
            }
            output = handle
            process.standardOutput = handle
        }
        let inPipe = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : inPipe
        try process.run()
        if let input {
            inPipe.fileHandleForWriting.write(Data(input.utf8))
            try? inPipe.fileHandleForWriting.close()
        }
        let err = errPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try? output?.close()
        guard process.terminationStatus == 0 || allowFailure else {
            throw Failure(command: arguments.prefix(4).joined(separator: " "), status: process.terminationStatus,
                          stderr: String(decoding: err, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return process.terminationStatus
    }
}
