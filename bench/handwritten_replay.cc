// Hand-written ns-3 program for a packet-trace replay on a Topology Zoo
// network: the baseline that the `ospf_failure` template's replay is
// benchmarked against (bench/bench_replay.py, bench/README.md).
//
// It is what a researcher would write by hand in plain ns-3 3.44 to replay a
// trace on a backbone, with stock ns-3 parts only:
//   - the topology from a small text file (written by bench_replay.py from the
//     same graph the template renders):
//         nodes <n>
//         link <u> <v> <capacity_bps> <delay_s> <cost>        (one per link)
//     `#` starts a comment line;
//   - one point-to-point link per record, DropTail device queues of
//     --queue packets (the template's default: 100), no flow control and no
//     queue discs (as in the template: FIFO at the device);
//   - stock global routing (Ipv4GlobalRoutingHelper::PopulateRoutingTables,
//     Dijkstra) with the link costs as interface metrics;
//   - the binary trace written by ani (ns3_scenarios/trace_file.py: write_trace): one UDP
//     socket per trace flow, each packet sent at its trace time with a payload
//     of max(12, ip_bytes - 28) bytes (the template's rule), to a PacketSink on
//     the destination router; received packets are counted;
//   - FlowMonitor on all nodes, written to flowmon.xml; the run ends at --stop.
//
// Addresses. By default a flow runs between interface addresses: link k gets
// the /30 10.0.0.0 + 4k (as in the template), a flow's destination is the
// first interface address of its destination router and its source is chosen
// by routing. This is what a plain-ns-3 calm replay needs, and it keeps global
// routing's tables to the 146 link subnets (its per-packet lookup scans them
// linearly). --loopbacks=1 instead gives every router a /32 loopback on a
// one-port device (10.255.0.0/16, the template's addressing, needed in the
// template for failures) and runs the traffic between loopbacks: 125 more
// routes in every table.
//
// Build: g++ -O2 -std=c++20 handwritten_replay.cc -I$NS3/include -L$NS3/lib64 \
//          -lns3.44-core -lns3.44-network -lns3.44-internet -lns3.44-point-to-point \
//          -lns3.44-applications -lns3.44-flow-monitor -lns3.44-traffic-control -Wl,-rpath,$NS3/lib64
// Run:   ./handwritten_replay --topology=topology.txt --trace=trace.bin --stop=2.3 --out=.

#include "ns3/applications-module.h"
#include "ns3/core-module.h"
#include "ns3/flow-monitor-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/point-to-point-module.h"
#include "ns3/traffic-control-module.h"

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

using namespace ns3;

namespace
{

constexpr uint16_t kSinkPort = 9;

struct Link
{
    uint32_t u, v;
    double capacityBps, delayS;
    uint32_t cost;
};

struct TracePacket
{
    double timeS;
    uint16_t ipBytes;
};

struct TraceFlow
{
    uint32_t src, dst;
    std::vector<TracePacket> packets;
};

[[noreturn]] void
Fail(const std::string& what)
{
    std::cerr << "handwritten_replay: " << what << "\n";
    std::exit(2);
}

uint32_t
ReadTopology(const std::string& path, std::vector<Link>& links)
{
    std::ifstream in(path);
    if (!in)
    {
        Fail("cannot open " + path);
    }
    uint32_t nodes = 0;
    std::string line, kind;
    while (std::getline(in, line))
    {
        std::istringstream ls(line);
        if (!(ls >> kind) || kind[0] == '#')
        {
            continue;
        }
        if (kind == "nodes")
        {
            ls >> nodes;
            continue;
        }
        Link l;
        if (kind != "link" || !(ls >> l.u >> l.v >> l.capacityBps >> l.delayS >> l.cost) || l.u >= nodes ||
            l.v >= nodes)
        {
            Fail(path + ": bad line '" + line + "'");
        }
        links.push_back(l);
    }
    return nodes;
}

/// The binary trace of kg/traces.py: 24-byte header, 8 bytes per flow, 16 per packet.
std::vector<TraceFlow>
ReadTrace(const std::string& path, uint32_t nodes, uint64_t& nPackets)
{
    std::ifstream in(path, std::ios::binary);
    char magic[8];
    uint32_t nFlows = 0, reserved = 0;
    in.read(magic, 8);
    in.read(reinterpret_cast<char*>(&nFlows), 4);
    in.read(reinterpret_cast<char*>(&reserved), 4);
    in.read(reinterpret_cast<char*>(&nPackets), 8);
    if (!in || std::string(magic, 8) != std::string("ANITRC1\0", 8))
    {
        Fail(path + ": not an ani trace file");
    }
    std::vector<TraceFlow> flows(nFlows);
    for (TraceFlow& f : flows)
    {
        uint32_t ends[2];
        in.read(reinterpret_cast<char*>(ends), 8);
        if (!in || ends[0] >= nodes || ends[1] >= nodes)
        {
            Fail(path + ": flow record out of range");
        }
        f.src = ends[0];
        f.dst = ends[1];
    }
    for (uint64_t k = 0; k < nPackets; ++k)
    {
        struct
        {
            double t;
            uint32_t flow;
            uint16_t bytes, pad;
        } rec;
        in.read(reinterpret_cast<char*>(&rec), 16);
        if (!in || rec.flow >= nFlows || rec.t < 0)
        {
            Fail(path + ": packet record " + std::to_string(k) + " truncated or out of range");
        }
        flows[rec.flow].packets.push_back(TracePacket{rec.t, rec.bytes});
    }
    return flows;
}

/// Sends one trace flow's packets from one UDP socket, each at its trace time.
class TraceSender : public Application
{
  public:
    TraceSender(const std::vector<TracePacket>* packets, Address remote)
        : m_packets(packets),
          m_remote(remote)
    {
    }

  private:
    void StartApplication() override
    {
        m_socket = Socket::CreateSocket(GetNode(), UdpSocketFactory::GetTypeId());
        m_socket->Bind();
        m_socket->Connect(m_remote);
        m_event = Simulator::Schedule(Seconds((*m_packets)[0].timeS) - Simulator::Now(), &TraceSender::Send,
                                      this);
    }

    void StopApplication() override
    {
        Simulator::Cancel(m_event);
        if (m_socket)
        {
            m_socket->Close();
        }
    }

    void Send()
    {
        uint16_t ip = (*m_packets)[m_next].ipBytes;
        m_socket->Send(Create<Packet>(std::max<uint32_t>(12, ip > 28 ? ip - 28 : 0)));
        if (++m_next < m_packets->size())
        {
            m_event = Simulator::Schedule(Seconds((*m_packets)[m_next].timeS) - Simulator::Now(),
                                          &TraceSender::Send, this);
        }
    }

    const std::vector<TracePacket>* m_packets;
    Address m_remote;
    size_t m_next = 0;
    Ptr<Socket> m_socket;
    EventId m_event;
};

uint64_t g_rxPackets = 0;
uint64_t g_rxBytes = 0;

void
CountRx(Ptr<const Packet> p, const Address&)
{
    ++g_rxPackets;
    g_rxBytes += p->GetSize();
}

/// A /32 on a one-port device: global routing advertises it as a stub network.
void
AddLoopback(Ptr<Node> node, Ipv4Address address)
{
    Ptr<SimpleNetDevice> dev = CreateObject<SimpleNetDevice>();
    dev->SetAddress(Mac48Address::Allocate());
    dev->SetChannel(CreateObject<SimpleChannel>());
    node->AddDevice(dev);
    Ptr<Ipv4> ipv4 = node->GetObject<Ipv4>();
    uint32_t i = ipv4->AddInterface(dev);
    ipv4->AddAddress(i, Ipv4InterfaceAddress(address, Ipv4Mask("255.255.255.255")));
    ipv4->SetUp(i);
}

} // namespace

int
main(int argc, char* argv[])
{
    std::string topologyPath = "topology.txt";
    std::string tracePath = "trace.bin";
    std::string outDir = ".";
    double stopS = 2.3;
    uint32_t queuePackets = 100;
    double histogramBinS = 0.0001;
    bool loopbacks = false;
    CommandLine cmd(__FILE__);
    cmd.AddValue("topology", "text topology (nodes / link records)", topologyPath);
    cmd.AddValue("trace", "binary packet trace written by ani", tracePath);
    cmd.AddValue("out", "folder for flowmon.xml", outDir);
    cmd.AddValue("stop", "simulated seconds", stopS);
    cmd.AddValue("queue", "DropTail device queue, packets", queuePackets);
    cmd.AddValue("histogramBin", "FlowMonitor delay/jitter bin width, s", histogramBinS);
    cmd.AddValue("loopbacks", "run the traffic between /32 loopbacks instead of interface addresses", loopbacks);
    cmd.Parse(argc, argv);

    std::vector<Link> links;
    uint32_t nNodes = ReadTopology(topologyPath, links);
    uint64_t nPackets = 0;
    std::vector<TraceFlow> flows = ReadTrace(tracePath, nNodes, nPackets);
    RngSeedManager::SetSeed(1);
    RngSeedManager::SetRun(1);
    auto wallStart = std::chrono::steady_clock::now(); // like the template: set-up + simulation

    NodeContainer nodes;
    nodes.Create(nNodes);
    InternetStackHelper internet; // static + global routing (the defaults)
    internet.Install(nodes);
    if (loopbacks)
    {
        for (uint32_t n = 0; n < nNodes; ++n)
        {
            AddLoopback(nodes.Get(n), Ipv4Address((10u << 24) | (255u << 16) | (n + 1)));
        }
    }

    PointToPointHelper p2p;
    p2p.DisableFlowControl(); // a full device queue drops; with it, Assign installs no queue disc
    p2p.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize",
                 QueueSizeValue(QueueSize(QueueSizeUnit::PACKETS, queuePackets)));
    Ipv4AddressHelper addresses("10.0.0.0", "255.255.255.252");
    for (const Link& l : links)
    {
        p2p.SetDeviceAttribute("DataRate", DataRateValue(DataRate(static_cast<uint64_t>(l.capacityBps))));
        p2p.SetChannelAttribute("Delay", TimeValue(Seconds(l.delayS)));
        NetDeviceContainer devs = p2p.Install(nodes.Get(l.u), nodes.Get(l.v));
        addresses.Assign(devs);
        addresses.NewNetwork();
        for (uint32_t i = 0; i < 2; ++i)
        {
            Ptr<Node> node = devs.Get(i)->GetNode();
            if (node->GetObject<TrafficControlLayer>()->GetRootQueueDiscOnDevice(devs.Get(i)))
            {
                Fail("a queue disc was installed"); // the comparison assumes none
            }
            Ptr<Ipv4> ipv4 = node->GetObject<Ipv4>();
            ipv4->SetMetric(ipv4->GetInterfaceForDevice(devs.Get(i)), l.cost);
        }
    }
    Ipv4GlobalRoutingHelper::PopulateRoutingTables();

    // Where each router is reached: its loopback, or its first link's address.
    std::vector<Ipv4Address> address(nNodes);
    for (uint32_t n = 0; n < nNodes; ++n)
    {
        Ptr<Ipv4> ipv4 = nodes.Get(n)->GetObject<Ipv4>();
        if (ipv4->GetNInterfaces() > 1)
        {
            address[n] = ipv4->GetAddress(1, 0).GetLocal(); // interface 0 is the loopback device
        }
    }

    // One PacketSink per destination router; one UDP sender per trace flow.
    std::vector<bool> hasSink(nNodes, false);
    PacketSinkHelper sinkHelper("ns3::UdpSocketFactory", InetSocketAddress(Ipv4Address::GetAny(), kSinkPort));
    uint64_t skipped = 0;
    for (const TraceFlow& f : flows)
    {
        if (f.packets.empty())
        {
            continue;
        }
        if (address[f.dst] == Ipv4Address() || address[f.src] == Ipv4Address())
        {
            skipped += f.packets.size(); // an isolated router: no way in or out
            continue;
        }
        if (!hasSink[f.dst])
        {
            hasSink[f.dst] = true;
            ApplicationContainer sink = sinkHelper.Install(nodes.Get(f.dst));
            sink.Get(0)->TraceConnectWithoutContext("Rx", MakeCallback(&CountRx));
            sink.Start(Seconds(0));
        }
        Ptr<TraceSender> sender =
            CreateObject<TraceSender>(&f.packets, InetSocketAddress(address[f.dst], kSinkPort));
        nodes.Get(f.src)->AddApplication(sender);
        sender->SetStartTime(Seconds(0));
    }

    FlowMonitorHelper flowmon;
    flowmon.SetMonitorAttribute("DelayBinWidth", DoubleValue(histogramBinS));
    flowmon.SetMonitorAttribute("JitterBinWidth", DoubleValue(histogramBinS));
    Ptr<FlowMonitor> monitor = flowmon.InstallAll();

    Simulator::Stop(Seconds(stopS));
    Simulator::Run();
    monitor->CheckForLostPackets();
    monitor->SerializeToXmlFile(outDir + "/flowmon.xml", true, false);
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();
    std::cout << "simulated_s " << Simulator::Now().GetSeconds() << "\n"
              << "events_processed " << Simulator::GetEventCount() << "\n"
              << "wall_s " << wall << "\n"
              << "trace_packets " << nPackets << "\n"
              << "skipped_packets " << skipped << "\n"
              << "rx_packets " << g_rxPackets << "\n"
              << "rx_bytes " << g_rxBytes << "\n";
    Simulator::Destroy();
    return 0;
}
