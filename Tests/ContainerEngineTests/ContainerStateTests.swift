import Testing
@testable import ContainerEngine

@Suite struct ContainerStateTests {
    @Test(arguments: [
        (ContainerState.created, ContainerState.running, true), (.running, .exited, true), (.created, .exited, true),
        (.exited, .removed, true), (.created, .removed, true),
        (.exited, .running, false), (.running, .created, false), (.running, .removed, false), (.removed, .running, false),
    ])
    func transitions(_ from: ContainerState, _ to: ContainerState, _ allowed: Bool) {
        #expect(from.allows(to) == allowed)
    }

    @Test func illegalMoveNamesBothStates() throws {
        var state = ContainerState.exited
        #expect(!state.allows(.running))
        state = .running
        #expect(state.allows(.exited))
        let error = EngineError.illegalTransition(from: .exited, to: .running, container: "0123456789abcdef")
        #expect(error.description == "container 0123456789ab cannot go from exited to running")
    }
}
