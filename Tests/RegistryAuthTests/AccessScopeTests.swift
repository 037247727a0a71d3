import RegistryAuth
import Testing

@Suite struct AccessScopeTests {
    @Test func parsesScopesWithPortsInNames() throws {
        let scope = try #require(AccessScope(parsing: "repository:localhost:5000/a/b:pull,push"))
        #expect(scope.type == "repository")
        #expect(scope.name == "localhost:5000/a/b")
        #expect(scope.actions == ["pull", "push"])
        #expect(AccessScope(parsing: "repository(plugin):x:pull")?.type == "repository")
    }

    @Test(arguments: ["", "repository", "repository:a", ":a:pull", "repository::pull", "repo:a:pu ll"])
    func rejectsMalformedScopes(_ text: String) {
        #expect(AccessScope(parsing: Substring(text)) == nil)
    }

    @Test func coverageNeedsEveryAction() {
        let needed = AccessScope.repository("a", "pull", "push")
        #expect(!needed.isCovered(by: [.repository("a", "pull")]))
        #expect(needed.isCovered(by: [.repository("a", "pull"), .repository("a", "push")]))
        #expect(needed.isCovered(by: [.repository("a", "*")]))
        #expect(!needed.isCovered(by: [.repository("b", "*")]))
    }
}
