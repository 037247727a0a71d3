/// One resource and the actions asked for or granted on it, as in a token scope string.
///
/// Grammar (docs/spec/auth/scope.md): `resourcetype[(resourceclass)]:resourcename:action[,action]*`.
/// The resource name may itself contain colons (a `host:port/` prefix), so the type ends at the first
/// colon and the actions start after the last one.
public struct AccessScope: Hashable, Sendable, CustomStringConvertible {
    public var type: String
    public var name: String
    public var actions: Set<String>

    public init(type: String, name: String, actions: Set<String>) {
        self.type = type
        self.name = name
        self.actions = actions
    }

    /// The scope a repository operation needs, e.g. `repository:library/busybox:pull`.
    public static func repository(_ name: String, _ actions: String...) -> AccessScope {
        AccessScope(type: "repository", name: name, actions: Set(actions))
    }

    /// `registry:catalog:*`, which listing the catalog needs.
    public static let catalog = AccessScope(type: "registry", name: "catalog", actions: ["*"])

    /// Parses one scope string; nil when it does not follow the grammar.
    public init?(parsing text: Substring) {
        guard text.count <= 1024,
              let firstColon = text.firstIndex(of: ":"),
              let lastColon = text.lastIndex(of: ":"),
              firstColon < lastColon else { return nil }
        var type = text[..<firstColon]
        // A resource class, e.g. `repository(plugin)`, is accepted and ignored.
        if let paren = type.firstIndex(of: "(") {
            guard type.last == ")" else { return nil }
            type = type[..<paren]
        }
        let name = text[text.index(after: firstColon)..<lastColon]
        let actionList = text[text.index(after: lastColon)...]
        guard !type.isEmpty, !name.isEmpty,
              type.allSatisfy({ $0.isLetter || $0.isNumber }),
              !name.contains(where: { $0 == " " || $0 == "," || $0.isNewline }) else { return nil }
        let actions = actionList.split(separator: ",", omittingEmptySubsequences: true).map(String.init)
        guard actions.allSatisfy({ action in action.allSatisfy { $0.isLetter || $0 == "*" } }) else { return nil }
        self.init(type: String(type), name: String(name), actions: Set(actions))
    }

    /// `repository:name:pull,push` with actions in a stable order.
    public var description: String {
        "\(type):\(name):\(actions.sorted().joined(separator: ","))"
    }

    /// True when `granted` covers every action of this scope (`*` covers all).
    public func isCovered(by granted: [AccessScope]) -> Bool {
        var remaining = actions
        for grant in granted where grant.type == type && grant.name == name {
            if grant.actions.contains("*") { return true }
            remaining.subtract(grant.actions)
        }
        return remaining.isEmpty
    }
}
