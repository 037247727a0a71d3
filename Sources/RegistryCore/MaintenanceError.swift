/// Why a maintenance operation (a sweep, an import) will not run; the message says what to do.
public struct MaintenanceError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
