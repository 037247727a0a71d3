#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: the call with its object (`rename(a, b)`, `open(/path)`) and `errno`.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let errno: Int32

    /// `call` already names its object, e.g. `"lstat(\(path))"`.
    public init(_ call: String, _ errno: Int32) {
        self.call = call
        self.errno = errno
    }

    /// A call on `path`, with the `errno` it just left.
    public init(_ call: String, _ path: String, errno: Int32 = Glibc.errno) {
        self.init("\(call)(\(path))", errno)
    }

    public var description: String { "\(call): \(String(cString: strerror(errno)))" }

    /// Runs `body` until it does not fail with EINTR; throws on -1.
    @discardableResult
    public static func retrying<T: BinaryInteger>(_ call: @autoclosure () -> String, _ body: () -> T) throws -> T {
        while true {
            let result = body()
            if result != -1 { return result }
            let code = Glibc.errno
            if code == EINTR { continue }
            throw SystemError(call(), code)
        }
    }
}
