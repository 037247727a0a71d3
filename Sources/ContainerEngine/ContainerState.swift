/// The lifecycle of a container, as a value type whose transitions are checked.
///
/// `created -> running -> exited -> removed`; `created -> exited` when the start fails;
/// `exited -> running` is not allowed (no restart). An illegal move names both states
/// (runc's habit), see `EngineError.illegalTransition`.
public enum ContainerState: String, Codable, Sendable, CustomStringConvertible {
    case created, running, exited, removed

    public var description: String { rawValue }

    /// Whether a container may move from this state to `next`.
    public func allows(_ next: ContainerState) -> Bool {
        switch (self, next) {
        case (.created, .running), (.created, .exited), (.running, .exited),
             (.created, .removed), (.exited, .removed):
            return true
        default:
            return false
        }
    }
}
