import Foundation
import NIOCore
import RegistryStorage
import S3

/// An upload session's bytes in the bucket, resumable from any node: a multipart upload of full
/// parts, the bytes after the last part (fewer than a part's minimum) as a small object of their
/// own, and a state object per acknowledged size naming both.
///
/// ```
/// <session>/data                       the multipart upload (completed only when the blob is)
/// <session>/state-<size, 20 digits>    JSON: upload id, parts (number, ETag, size), tail
/// <session>/tail-<size, 20 digits>     the bytes after the last part, when there are any
/// ```
/// A chunk's writer starts from the state at the session's acknowledged size and commits by
/// writing the state at the new size (`PutObject` is atomic), so a chunk cut off, or one whose
/// acknowledgement was lost, never counts: its parts are simply not named by any state the
/// metadata acknowledges. States past the acknowledged size are removed when the next writer
/// opens, so the newest state is always the acknowledged one when the session is finished.
struct S3UploadSession: Sendable {
    let client: S3Client
    /// The session's key (the driver path of its "file").
    let key: String
    let partSize: Int

    struct State: Codable, Sendable {
        var size: Int64 = 0
        var uploadID: String?
        var parts: [S3Part] = []
        /// Bytes after the last part, in the tail object written with this state.
        var tailSize: Int64 = 0
    }

    var dataKey: String { "\(key)/data" }
    func stateKey(_ size: Int64) -> String { "\(key)/state-\(Self.padded(size))" }
    func tailKey(_ size: Int64) -> String { "\(key)/tail-\(Self.padded(size))" }

    static func padded(_ size: Int64) -> String {
        let digits = String(size)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    /// A writer continuing the session at its acknowledged `size`.
    func writer(at size: Int64) async throws -> S3SessionWriter {
        let states = try await stateSizes()
        // States past the acknowledged size belong to chunks whose acknowledgement was lost.
        let stale = states.filter { $0 > size }
        if !stale.isEmpty { try await client.deleteObjects(stale.flatMap { [stateKey($0), tailKey($0)] }) }
        var state = State()
        if size > 0 {
            guard states.contains(size), let bytes = try await client.getSmallObject(stateKey(size), limit: 1 << 20),
                  let saved = try? JSONDecoder().decode(State.self, from: Data(bytes)), saved.size == size else {
                throw StorageError.notFound(key)
            }
            state = saved
        }
        var pending = ByteBuffer()
        if state.tailSize > 0 {
            guard let tail = try await client.getSmallObject(tailKey(size), limit: Int(state.tailSize)),
                  tail.count == Int(state.tailSize) else {
                throw StorageError.notFound(key)
            }
            pending.writeBytes(tail)
        }
        return S3SessionWriter(session: self, state: state, pending: pending)
    }

    /// Completes the session's object from its newest state; returns the key holding its bytes
    /// and their size, or nil when `key` is no session (a plain object).
    func finish() async throws -> (key: String, size: Int64)? {
        guard let size = try await stateSizes().max(),
              let bytes = try await client.getSmallObject(stateKey(size), limit: 1 << 20),
              let state = try? JSONDecoder().decode(State.self, from: Data(bytes)) else { return nil }
        guard let uploadID = state.uploadID else {
            // Never a full part: the tail is the whole content.
            if state.tailSize == 0 {
                try await client.putObject(dataKey, bytes: ByteBuffer())
                return (dataKey, 0)
            }
            return (tailKey(size), state.size)
        }
        var parts = state.parts
        if state.tailSize > 0 {
            guard let tail = try await client.getSmallObject(tailKey(size), limit: Int(state.tailSize)) else {
                throw StorageError.notFound(key)
            }
            let number = (parts.map(\.number).max() ?? 0) + 1
            parts.append(try await client.uploadPart(dataKey, uploadID: uploadID, number: number, bytes: ByteBuffer(bytes: tail)))
        }
        try await client.completeMultipartUpload(dataKey, uploadID: uploadID, parts: parts)
        return (dataKey, state.size)
    }

    /// The sizes of the states written so far.
    func stateSizes() async throws -> [Int64] {
        let prefix = "\(key)/state-"
        return try await client.listAllObjects(prefix: prefix).compactMap { Int64($0.key.dropFirst(prefix.count)) }
    }

    func save(_ state: State, tail: ByteBuffer) async throws {
        if state.tailSize > 0 { try await client.putObject(tailKey(state.size), bytes: tail) }
        let json = try JSONEncoder().encode(state)
        try await client.putObject(stateKey(state.size), bytes: ByteBuffer(bytes: json), contentType: "application/json")
    }
}

/// Appends one chunk to a session: full parts leave as they fill; `commit` saves the rest as the
/// tail and the state at the new size.
///
/// `@unchecked Sendable`: one caller uses a writer at a time, each call awaited before the next.
final class S3SessionWriter: StorageWriter, @unchecked Sendable {
    private let session: S3UploadSession
    private var state: S3UploadSession.State
    private var pending: ByteBuffer

    init(session: S3UploadSession, state: S3UploadSession.State, pending: ByteBuffer) {
        self.session = session
        self.state = state
        self.pending = pending
    }

    func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        state.size += Int64(buffer.readableBytes)
        pending.writeBuffer(&buffer)
        let partSize = max(session.partSize, S3Client.minimumPartSize)
        while pending.readableBytes >= partSize, let part = pending.readSlice(length: partSize) {
            try await send(part)
            pending.discardReadBytes()
        }
    }

    func commit() async throws {
        state.tailSize = Int64(pending.readableBytes)
        try await session.save(state, tail: pending)
    }

    /// Parts sent by a cut-off chunk are named by no acknowledged state: nothing to undo.
    func cancel() async {
        pending.clear()
    }

    private func send(_ bytes: ByteBuffer) async throws {
        let client = session.client
        let id: String
        if let uploadID = state.uploadID {
            id = uploadID
        } else {
            id = try await client.createMultipartUpload(session.dataKey)
            state.uploadID = id
        }
        // A number after every part named so far; one a lost chunk used is simply overwritten.
        let number = (state.parts.map(\.number).max() ?? 0) + 1
        state.parts.append(try await client.uploadPart(session.dataKey, uploadID: id, number: number, bytes: bytes))
    }
}
