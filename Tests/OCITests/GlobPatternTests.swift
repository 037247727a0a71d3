import OCI
import Testing

@Suite struct GlobPatternTests {
    @Test func singleStarStaysInOneSegment() throws {
        let glob = try GlobPattern("team/*")
        #expect(glob.matches("team/app"))
        #expect(!glob.matches("team/app/sub"))
        #expect(!glob.matches("other/app"))
        #expect(try GlobPattern("v*").matches("v1.2.3"))
        #expect(try GlobPattern("a?c").matches("abc"))
        #expect(!(try GlobPattern("a?c").matches("a/c")))
    }

    @Test func doubleStarCrossesSegments() throws {
        let glob = try GlobPattern("team/**")
        #expect(glob.matches("team/app"))
        #expect(glob.matches("team/app/sub"))
        #expect(!glob.matches("teams/app"))
        #expect(try GlobPattern("**").matches("anything/at/all"))
        #expect(try GlobPattern("**/cache").matches("a/b/cache"))
    }

    @Test func invalidGlobsAreRefused() throws {
        #expect(throws: GlobPattern.ValidationError.self) { try GlobPattern("a/***") }
        #expect(try GlobPattern("").matches(""))
        #expect(!(try GlobPattern("").matches("a")))
    }

    @Test func pathologicalPatternsStayFast() throws {
        let glob = try GlobPattern(String(repeating: "*a", count: 20) + "b")
        #expect(!glob.matches(String(repeating: "a", count: 200)))
    }
}
