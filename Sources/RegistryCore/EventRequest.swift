/// The HTTP request a change came from, as notifications report it (`request` and `actor` of
/// Distribution's events).
///
/// The server binds it for the duration of each request (`EventRequest.$current`), so the core's
/// operations need no HTTP parameter to report who asked; nil outside a request (imports, GC).
public struct EventRequest: Codable, Sendable, Equatable {
    public var id: String
    public var addr: String
    public var host: String
    public var method: String
    public var userAgent: String
    /// The authenticated account; nil for anonymous access.
    public var actor: String?

    public init(id: String, addr: String, host: String, method: String, userAgent: String, actor: String?) {
        self.id = id
        self.addr = addr
        self.host = host
        self.method = method
        self.userAgent = userAgent
        self.actor = actor
    }

    @TaskLocal public static var current: EventRequest?
}
