import Foundation
import OCI
import RegistryMetadata
import Testing

/// SQLite's group commit: writes that arrive together share a transaction, but each stands or
/// falls alone, and each caller hears of its own outcome.
@Suite struct GroupCommitTests {
    @Test func concurrentWritesCommitTogetherAndFailAlone() async throws {
        try await withStore(.sqlite) { store in
            let repo = try RepositoryName("team/app")
            // 200 writes at once; every fifth reuses an id and must fail (a primary key conflict)
            // without taking the others of its group down.
            let outcomes = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
                for index in 0..<200 {
                    group.addTask {
                        let id = index % 5 == 4 ? "u\(index - 1)" : "u\(index)"
                        do {
                            try await store.createUpload(UploadRecord(id: id, repository: repo, size: Int64(index), createdAt: 1))
                            return (index, true)
                        } catch {
                            return (index, false)
                        }
                    }
                }
                return try await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
            }
            for index in 0..<200 {
                let duplicate = index % 5 == 4
                let ownID = index % 5 == 3 || duplicate ? "u\(index - (duplicate ? 1 : 0))" : "u\(index)"
                if index % 5 == 3 || duplicate {
                    // Exactly one of the pair u(i) / its duplicate won; the record is the winner's.
                    let winners = [index % 5 == 3 ? index : index - 1, index % 5 == 3 ? index + 1 : index]
                        .filter { outcomes[$0] == true }
                    #expect(winners.count == 1, "id \(ownID)")
                    #expect(try await store.upload(ownID)?.size == winners.first.map(Int64.init))
                } else {
                    #expect(outcomes[index] == true)
                    #expect(try await store.upload("u\(index)")?.size == Int64(index))
                }
            }
        }
    }
}
