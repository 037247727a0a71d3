import ServiceLifecycle

/// Sleeps for `duration`, or less when the task is cancelled or the service group starts to
/// shut down: a back-off of minutes must not hold up a graceful shutdown.
func pause(_ duration: Duration) async {
    try? await cancelWhenGracefulShutdown {
        try await Task.sleep(for: duration)
    }
}
