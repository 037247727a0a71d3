import Foundation
import RegistryCore

/// Distribution's notification envelope: `{"events": [...]}` in
/// `application/vnd.docker.distribution.events.v2+json`, so receivers written for `registry:2`
/// read Berth's events unchanged.
struct EventEnvelope: Sendable {
    static let mediaType = "application/vnd.docker.distribution.events.v2+json"

    /// `scheme://host[:port]` the event URLs start with: `http.host` when set.
    let externalHost: String?
    let scheme: String
    /// `source.addr`: this node's host name and port; `source.instanceID`: this process.
    let sourceAddress: String
    let instanceID: String

    private struct Envelope: Encodable {
        let events: [Event]
    }

    private struct Event: Encodable {
        struct Target: Encodable {
            let mediaType: String
            let size: Int64
            let digest: String
            let length: Int64
            let repository: String
            let url: String
            let tag: String?
            let fromRepository: String?
            let references: [Reference]?
        }
        struct Reference: Encodable {
            let mediaType: String
            let digest: String
            let size: Int64
        }
        struct Request: Encodable {
            let id: String
            let addr: String
            let host: String
            let method: String
            let useragent: String
        }
        struct Actor: Encodable {
            let name: String?
        }
        struct Source: Encodable {
            let addr: String
            let instanceID: String
        }
        let id: String
        let timestamp: String
        let action: String
        let target: Target
        let request: Request
        let actor: Actor
        let source: Source
    }

    func encode(_ records: [EventRecord]) -> [UInt8] {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let events = records.map { record -> Event in
            let request = record.request
            let host = request.map(\.host).flatMap { $0.isEmpty ? nil : $0 } ?? sourceAddress
            let base = externalHost ?? "\(scheme)://\(host)"
            let kind = record.isManifest ? "manifests" : "blobs"
            let url = record.digest.isEmpty ? "" : "\(base)/v2/\(record.repository)/\(kind)/\(record.digest)"
            return Event(
                id: record.id, timestamp: formatter.string(from: record.timestamp), action: record.action,
                target: .init(mediaType: record.mediaType, size: record.size, digest: record.digest, length: record.size,
                              repository: record.repository, url: url, tag: record.tag, fromRepository: record.fromRepository,
                              references: record.references?.map { .init(mediaType: $0.mediaType, digest: $0.digest.description, size: $0.size) }),
                request: .init(id: request?.id ?? "", addr: request?.addr ?? "", host: request?.host ?? "",
                               method: request?.method ?? "", useragent: request?.userAgent ?? ""),
                actor: .init(name: request?.actor),
                source: .init(addr: sourceAddress, instanceID: instanceID))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return Array((try? encoder.encode(Envelope(events: events))) ?? Data("{\"events\":[]}".utf8))
    }
}
