import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import OCI
import RegistryStorage

/// Turns any error a handler throws into the spec's error response, in one place.
///
/// Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes
enum ErrorResponse {
    static func distributionError(for error: any Error) -> DistributionError {
        switch error {
        case let error as DistributionError:
            return error
        case let error as Digest.ValidationError:
            return DistributionError(.digestInvalid, error.description)
        case let error as RepositoryName.ValidationError:
            return DistributionError(.nameInvalid, error.description)
        case StorageError.notFound:
            return DistributionError(.blobUnknown, "content is missing from storage")
        default:
            return DistributionError(.unsupported, "internal error", status: 500)
        }
    }

    static func response(_ error: DistributionError, headers: HTTPFields = [:], includeBody: Bool = true) -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        var object: [String: Any] = ["code": error.code.rawValue, "message": error.message]
        if let detail = error.detail { object["detail"] = detail }
        let body = (try? JSONSerialization.data(withJSONObject: ["errors": [object]], options: [.sortedKeys])) ?? Data()
        fields[.contentLength] = String(body.count)
        return Response(status: .init(code: error.status), headers: fields,
                        body: includeBody ? ResponseBody(byteBuffer: ByteBuffer(bytes: body)) : ResponseBody())
    }
}
