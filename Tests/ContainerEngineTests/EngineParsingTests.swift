import OCI
import Testing
@testable import ContainerEngine

@Suite struct EngineParsingTests {
    static let v1Mountinfo = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """

    @Test func readsV1ControllersAndTheUnifiedMount() {
        let hierarchy = CgroupHierarchy(mountinfo: Self.v1Mountinfo)
        #expect(hierarchy.v1["memory"] == "/sys/fs/cgroup/memory")
        #expect(hierarchy.v1["cpuacct"] == "/sys/fs/cgroup/cpuacct")
        #expect(hierarchy.v1["name=systemd"] == nil)
        #expect(hierarchy.unified == "/sys/fs/cgroup/unified")
        let cgroup = ContainerCgroup(id: "abc", hierarchy: CgroupHierarchy(v1: hierarchy.v1, unified: nil))
        #expect(cgroup.directories == ["/sys/fs/cgroup/memory/berth/abc", "/sys/fs/cgroup/pids/berth/abc",
                                       "/sys/fs/cgroup/cpu/berth/abc", "/sys/fs/cgroup/cpuacct/berth/abc"])
    }

    @Test func combinedV1MountsAreUsedOnceAndEscapesDecoded() {
        let text = """
            30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
            31 25 0:27 / /sys/fs/cgroup/my\\040memory rw - cgroup cgroup rw,memory
            """
        let hierarchy = CgroupHierarchy(mountinfo: text)
        #expect(hierarchy.v1["cpu"] == "/sys/fs/cgroup/cpu,cpuacct")
        #expect(hierarchy.v1["memory"] == "/sys/fs/cgroup/my memory")
        let cgroup = ContainerCgroup(id: "x", hierarchy: hierarchy)
        #expect(cgroup.directories == ["/sys/fs/cgroup/my memory/berth/x", "/sys/fs/cgroup/cpu,cpuacct/berth/x"])
    }

    @Test(arguments: [
        ("8080:80", nil, 8080, 80, "tcp"), ("127.0.0.1:8080:80", "127.0.0.1", 8080, 80, "tcp"),
        ("53:53/udp", nil, 53, 53, "udp"),
    ] as [(String, String?, UInt16, UInt16, String)])
    func parsesPortMappings(_ text: String, _ ip: String?, _ host: UInt16, _ container: UInt16, _ proto: String) throws {
        let mapping = try PortMapping(parsing: text)
        #expect(mapping.hostIP == ip && mapping.hostPort == host && mapping.containerPort == container && mapping.proto == proto)
    }

    @Test(arguments: ["80", "a:80", "1.2.3:80:80", "80:80/sctp", "0:80", "70000:80", "x.y.z.w:1:2"])
    func rejectsBadPortMappings(_ text: String) {
        #expect(throws: EngineError.self) { try PortMapping(parsing: text) }
    }

    @Test func subnetsAndLeases() throws {
        let subnet = try #require(IPv4Subnet("10.118.3.77/24"))
        #expect(subnet.description == "10.118.3.0/24" && subnet.gateway.description == "10.118.3.1")
        #expect(IPv4Subnet("10.0.0.0/31") == nil && IPv4Subnet("300.0.0.0/24") == nil)
        #expect(subnet.overlaps(try #require(IPv4Subnet("10.118.0.0/16"))))
        var network = BridgeNetwork(name: "n", bridge: "n", subnet: try #require(IPv4Subnet("10.0.0.0/30")))
        #expect(try network.lease(to: "a").description == "10.0.0.2")
        #expect(try network.lease(to: "a").description == "10.0.0.2")  // the same container keeps its address
        #expect(throws: EngineError.self) { try network.lease(to: "b") }
        network.release("a")
        #expect(try network.lease(to: "b").description == "10.0.0.2")
    }

    @Test(arguments: [("64m", Int64(64 << 20)), ("1g", Int64(1 << 30)), ("512", Int64(512)), ("10k", Int64(10 << 10))])
    func parsesSizes(_ text: String, _ bytes: Int64) throws {
        #expect(try ContainerSpec.parseBytes(text) == bytes)
    }

    @Test func chainIDsFollowTheSpec() throws {
        let a = try Digest("sha256:" + String(repeating: "a", count: 64))
        let b = try Digest("sha256:" + String(repeating: "b", count: 64))
        let chain = Snapshotter.chainIDs([a, b])
        #expect(chain[0] == a)
        #expect(chain[1] == DigestHasher.digest(of: Array("\(a) \(b)".utf8)))
    }

    @Test func environmentOverridesByKey() {
        var env = Environment(["PATH=/bin", "A=1"])
        env.set("A=2")
        env.setDefault("PATH", "/usr/bin")
        env.setDefault("HOME", "/root")
        env.set("EMPTY")
        #expect(env.entries == ["PATH=/bin", "A=2", "HOME=/root", "EMPTY"])
    }

    @Test func initConfigWireFormat() {
        var config = InitConfig()
        config.set("mode", "run")
        config.set("arg", ["sh", "-c"])
        #expect(config.bytes == Array("mode=run\0arg=sh\0arg=-c\0\0".utf8))
    }
}

@Suite struct InitConfigSafetyTests {
    @Test func aNulByteCannotAddAnEntry() {
        var config = InitConfig()
        config.set("env", ["A=1\0mount=/:/host:rw"])
        #expect(throws: EngineError.self) { try config.encoded() }
        var single = InitConfig()
        single.set("arg", "sh\0cap=21")
        #expect(throws: EngineError.self) { try single.encoded() }
    }
}
