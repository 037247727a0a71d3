import Foundation
import Hummingbird
import Logging
import NIOPosix
import Prometheus
import ServerConfiguration

/// The `http.debug` listener: `/debug/health` for load balancers and, when enabled, the
/// Prometheus scrape path. Nothing of the API is reachable here, and nothing here is on the API's
/// address.
enum DebugServer {
    static func make(settings: DebugSettings, address: ListenAddress, health: HealthMonitor,
                     metrics: PrometheusCollectorRegistry?, recorder: RequestRecorder?, logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        router.get("/debug/health") { _, _ -> Response in
            let failures = health.failures
            let body = (try? JSONSerialization.data(withJSONObject: failures, options: [.sortedKeys])) ?? Data("{}".utf8)
            return Response(status: failures.isEmpty ? .ok : .serviceUnavailable,
                            headers: [.contentType: "application/json; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        }
        if settings.prometheusEnabled, let metrics {
            router.get(RouterPath(settings.prometheusPath)) { _, _ -> Response in
                // A scrape sees every request finished before it, not only those of past batches.
                if let recorder { try await NIOThreadPool.singleton.runIfActive { recorder.flush() } }
                return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                         body: ResponseBody(byteBuffer: ByteBuffer(bytes: MetricsBootstrap.exposition(metrics))))
            }
        }
        return Application(router: router,
                           configuration: .init(address: .hostname(address.host, port: address.port), serverName: nil),
                           onServerRunning: { channel in
                               logger.info("debug listener", metadata: ["address": "http://\(channel.localAddress?.description ?? "?")"])
                           },
                           logger: logger)
    }
}
