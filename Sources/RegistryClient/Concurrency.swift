import OCI

/// Runs `body` for each item with at most `limit` running at once; the first error cancels the rest.
public func forEachConcurrently<T: Sendable>(
    _ items: [T], limit: Int, _ body: @escaping @Sendable (T) async throws -> Void
) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        var iterator = items.makeIterator()
        for _ in 0..<Swift.max(1, limit) {
            guard let item = iterator.next() else { break }
            group.addTask { try await body(item) }
        }
        while try await group.next() != nil {
            if let item = iterator.next() { group.addTask { try await body(item) } }
        }
    }
}

/// Removes duplicate descriptors (same digest), largest first so the longest transfers start
/// early and small ones fill the gaps at the end.
public func uniqueByDigest(_ descriptors: [Descriptor]) -> [Descriptor] {
    var seen: Set<Digest> = []
    return descriptors.filter { seen.insert($0.digest).inserted }.sorted { $0.size > $1.size }
}
