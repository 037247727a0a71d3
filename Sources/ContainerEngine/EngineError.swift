import Foundation

/// Errors of the container engine, in words a user acts on. `berth` exits 125 for all of them.
public enum EngineError: Error, CustomStringConvertible, Sendable {
    case invalidImage(String)
    case layerRefused(String, String)
    case noSuchContainer(String)
    case nameInUse(String, id: String)
    case illegalTransition(from: ContainerState, to: ContainerState, container: String)
    case containerRunning(String)
    case containerNotRunning(String)
    case invalidOption(String)
    case noSuchNetwork(String)
    case networkInUse(String)
    case networkExists(String)
    case subnetExhausted(String)
    case initFailed(String)
    case networkSetup(String)
    case cgroup(String)

    public var description: String {
        switch self {
        case .invalidImage(let what): "invalid image: \(what)"
        case .layerRefused(let digest, let why): "layer \(digest) refused: \(why)"
        case .noSuchContainer(let name): "no such container: \(name)"
        case .nameInUse(let name, let id): "the name \"\(name)\" is already in use by container \(id.prefix(12))"
        case .illegalTransition(let from, let to, let id): "container \(id.prefix(12)) cannot go from \(from) to \(to)"
        case .containerRunning(let name): "container \(name) is running: stop it first or use rm -f"
        case .containerNotRunning(let name): "container \(name) is not running"
        case .invalidOption(let what): what
        case .noSuchNetwork(let name): "no such network: \(name)"
        case .networkInUse(let name): "network \(name) has containers attached"
        case .networkExists(let name): "network \(name) already exists"
        case .subnetExhausted(let name): "no free address left in network \(name)"
        case .initFailed(let message): message
        case .networkSetup(let message): "network: \(message)"
        case .cgroup(let message): "cgroup: \(message)"
        }
    }
}
