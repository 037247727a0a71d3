import Foundation
import OCI

/// Where the engine keeps its state, beside the image store (`$BERTH_ROOT`).
///
/// ```
/// <root>/snapshots/<chain id hex>/fs      one unpacked layer, an overlay lower dir (read-only use)
/// <root>/snapshots/.tmp-<uuid>/fs         a layer being unpacked (renamed into place when verified)
/// <root>/containers/<id>/container.json   the container's record (spec, state, network)
/// <root>/containers/<id>/{upper,work,rootfs}   overlay upper and work dirs, mount point
/// <root>/containers/<id>/{hosts,hostname,resolv.conf}   files bound into the container
/// <root>/containers/<id>/container.log    stdout and stderr of a detached container
/// <root>/containers/.lock                 flock serialising name allocation and record updates
/// <root>/networks/<name>.json             a bridge network and its address leases
/// ```
public struct EnginePaths: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    public var snapshots: String { root + "/snapshots" }
    public var containers: String { root + "/containers" }
    public var networks: String { root + "/networks" }
    public var containersLock: String { containers + "/.lock" }
    public var networksLock: String { networks + "/.lock" }

    public func snapshot(_ chainID: Digest) -> String { snapshots + "/" + chainID.hex }
    public func container(_ id: String) -> String { containers + "/" + id }
    public func network(_ name: String) -> String { networks + "/" + name + ".json" }

    /// Creates the top-level directories (private to root: containers hold users' data).
    public func create() throws {
        for dir in [root, snapshots, containers, networks] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        }
    }
}

