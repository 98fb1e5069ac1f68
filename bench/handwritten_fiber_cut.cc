// Hand-written ns-3 program for the Abilene fiber-cut scenario: the baseline
// that `ani run` is benchmarked against (see bench/README.md).
//
// It is what a researcher would write by hand in plain ns-3 3.44 for the same
// experiment `ani` renders from the ospf_failure template with its default
// parameters:
//   - Abilene, 11 routers and 14 point-to-point links; capacities scaled by
//     0.01 (99.5328 Mb/s), propagation delays from the great-circle distances,
//     OSPF costs as interface metrics, global routing (Dijkstra);
//   - 110 gravity-model CBR flows (stock OnOffApplication, UDP, 1000-byte
//     payloads) from 0.5 s to 3.0 s, each from a /32 loopback to a /32
//     loopback so rerouting never changes a flow's 5-tuple;
//   - at 1.0 s the Denver-Kansas_City fibre is cut (both devices drop every
//     packet); after 50 ms the interfaces go down; after 200 ms SPF + 50 ms FIB
//     the routing tables are recomputed;
//   - DropTail device queues of 100 packets, no queue discs;
//   - FlowMonitor on all nodes, written to flowmon.xml; the run ends at 3.5 s.
// The values were transcribed from the `input.txt` that `ani` renders for this
// scenario (bench/bench_fiber_cut.py checks that both sides offer the same load).
//
// Build: g++ -O2 -std=c++20 handwritten_fiber_cut.cc -I$NS3/include -L$NS3/lib64 \
//          -lns3.44-core -lns3.44-network -lns3.44-internet -lns3.44-point-to-point \
//          -lns3.44-applications -lns3.44-flow-monitor -lns3.44-traffic-control -Wl,-rpath,$NS3/lib64
// Run:   ./handwritten_fiber_cut --out=.

#include "ns3/applications-module.h"
#include "ns3/core-module.h"
#include "ns3/flow-monitor-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/point-to-point-module.h"
#include "ns3/traffic-control-module.h"

#include <chrono>
#include <iostream>
#include <string>

using namespace ns3;

namespace
{

constexpr uint32_t kNodes = 11;
const char* const kNodeNames[kNodes] = {"Seattle", "Sunnyvale", "Los_Angeles", "Denver",
                                        "Kansas_City", "Houston", "Chicago", "Indianapolis",
                                        "Atlanta", "Washington_DC", "New_York"};

struct Link
{
    uint32_t a, b;  // node indices
    double delayS;  // one-way propagation delay
    uint16_t cost;  // OSPF cost
};

constexpr double kLinkRateBps = 99532800.0; // OC-192 (9.95 Gb/s) x capacity scale 0.01
constexpr uint32_t kLinks = 14;
const Link kLinkTable[kLinks] = {
    {0, 1, 0.005575416738236032, 56},   //  0 Seattle-Sunnyvale
    {0, 3, 0.008036098240905062, 80},   //  1 Seattle-Denver
    {1, 2, 0.0024638202088107125, 25},  //  2 Sunnyvale-Los_Angeles
    {1, 3, 0.007362688262484798, 74},   //  3 Sunnyvale-Denver
    {2, 5, 0.010803461773676084, 108},  //  4 Los_Angeles-Houston
    {3, 4, 0.004388457708386631, 44},   //  5 Denver-Kansas_City      <- cut
    {4, 5, 0.005097501588091138, 51},   //  6 Kansas_City-Houston
    {4, 7, 0.0035585049183262177, 36},  //  7 Kansas_City-Indianapolis
    {5, 8, 0.005524801224586695, 55},   //  8 Houston-Atlanta
    {6, 7, 0.0012989124954944156, 13},  //  9 Chicago-Indianapolis
    {6, 10, 0.00560329717024989, 56},   // 10 Chicago-New_York
    {7, 8, 0.0033670063644944603, 34},  // 11 Indianapolis-Atlanta
    {8, 9, 0.004273541858865494, 43},   // 12 Atlanta-Washington_DC
    {9, 10, 0.0016040802246193233, 16}, // 13 Washington_DC-New_York
};
constexpr uint32_t kCutLink = 5;

// Gravity demand matrix (bit/s), scaled so that the busiest link runs at 60%.
constexpr double kLow = 1521520.5095541405;
constexpr double kMid = 2282280.7643312104;
constexpr double kHigh = 3423421.146496816;
const double kDemandBps[kNodes][kNodes] = {
    {0, kMid, kLow, kMid, kMid, kMid, kLow, kMid, kMid, kLow, kLow},
    {kMid, 0, kMid, kHigh, kHigh, kHigh, kMid, kHigh, kHigh, kMid, kMid},
    {kLow, kMid, 0, kMid, kMid, kMid, kLow, kMid, kMid, kLow, kLow},
    {kMid, kHigh, kMid, 0, kHigh, kHigh, kMid, kHigh, kHigh, kMid, kMid},
    {kMid, kHigh, kMid, kHigh, 0, kHigh, kMid, kHigh, kHigh, kMid, kMid},
    {kMid, kHigh, kMid, kHigh, kHigh, 0, kMid, kHigh, kHigh, kMid, kMid},
    {kLow, kMid, kLow, kMid, kMid, kMid, 0, kMid, kMid, kLow, kLow},
    {kMid, kHigh, kMid, kHigh, kHigh, kHigh, kMid, 0, kHigh, kMid, kMid},
    {kMid, kHigh, kMid, kHigh, kHigh, kHigh, kMid, kHigh, 0, kMid, kMid},
    {kLow, kMid, kLow, kMid, kMid, kMid, kLow, kMid, kMid, 0, kLow},
    {kLow, kMid, kLow, kMid, kMid, kMid, kLow, kMid, kMid, kLow, 0},
};

constexpr uint32_t kPacketBytes = 1000;
constexpr uint32_t kQueuePackets = 100;
constexpr double kTrafficStartS = 0.5;
constexpr double kTrafficStopS = 3.0;
constexpr double kEndS = 3.5;
constexpr double kCutS = 1.0;
constexpr double kDetectDelayS = 0.05; // BFD-like failure detection
constexpr double kSpfDelayS = 0.2;
constexpr double kFibDelayS = 0.05;
constexpr uint16_t kSinkPort = 9;

NetDeviceContainer g_cutDevices; // the two ends of the cut link

Ipv4Address
Loopback(uint32_t node)
{
    return Ipv4Address((10u << 24) | (255u << 16) | (node + 1)); // 10.255.0.(node + 1)
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

void
CutFibre()
{
    for (uint32_t i = 0; i < 2; ++i)
    {
        Ptr<RateErrorModel> em = CreateObject<RateErrorModel>();
        em->SetUnit(RateErrorModel::ERROR_UNIT_PACKET);
        em->SetRate(1.0);
        DynamicCast<PointToPointNetDevice>(g_cutDevices.Get(i))->SetReceiveErrorModel(em);
    }
}

void
InterfacesDown()
{
    for (uint32_t i = 0; i < 2; ++i)
    {
        Ptr<NetDevice> dev = g_cutDevices.Get(i);
        Ptr<Ipv4> ipv4 = dev->GetNode()->GetObject<Ipv4>();
        ipv4->SetDown(ipv4->GetInterfaceForDevice(dev));
    }
}

} // namespace

int
main(int argc, char* argv[])
{
    std::string outDir = ".";
    CommandLine cmd(__FILE__);
    cmd.AddValue("out", "folder for flowmon.xml", outDir);
    cmd.Parse(argc, argv);

    RngSeedManager::SetSeed(1);
    RngSeedManager::SetRun(1);
    // Routes change only when we say so (timed convergence below).
    Config::SetDefault("ns3::Ipv4GlobalRouting::RespondToInterfaceEvents", BooleanValue(false));
    auto wallStart = std::chrono::steady_clock::now();

    NodeContainer nodes;
    nodes.Create(kNodes);
    InternetStackHelper internet;
    internet.Install(nodes);
    for (uint32_t n = 0; n < kNodes; ++n)
    {
        AddLoopback(nodes.Get(n), Loopback(n));
    }

    PointToPointHelper p2p;
    p2p.SetDeviceAttribute("DataRate", DataRateValue(DataRate(static_cast<uint64_t>(kLinkRateBps))));
    p2p.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize",
                 QueueSizeValue(QueueSize(QueueSizeUnit::PACKETS, kQueuePackets)));
    Ipv4AddressHelper addresses("10.0.0.0", "255.255.255.252");
    TrafficControlHelper tch;
    for (uint32_t k = 0; k < kLinks; ++k)
    {
        const Link& l = kLinkTable[k];
        p2p.SetChannelAttribute("Delay", TimeValue(Seconds(l.delayS)));
        NetDeviceContainer devs = p2p.Install(nodes.Get(l.a), nodes.Get(l.b));
        addresses.Assign(devs);
        addresses.NewNetwork();
        tch.Uninstall(devs); // no queue discs: packets go straight to the DropTail device queue
        for (uint32_t i = 0; i < 2; ++i)
        {
            Ptr<Ipv4> ipv4 = devs.Get(i)->GetNode()->GetObject<Ipv4>();
            ipv4->SetMetric(ipv4->GetInterfaceForDevice(devs.Get(i)), l.cost);
        }
        if (k == kCutLink)
        {
            g_cutDevices = devs;
        }
    }
    Ipv4GlobalRoutingHelper::PopulateRoutingTables();

    // One UDP sink per router; one CBR source per ordered pair, bound to its loopback.
    PacketSinkHelper sink("ns3::UdpSocketFactory", InetSocketAddress(Ipv4Address::GetAny(), kSinkPort));
    sink.Install(nodes).Start(Seconds(0));
    Ptr<UniformRandomVariable> phase = CreateObject<UniformRandomVariable>();
    for (uint32_t s = 0; s < kNodes; ++s)
    {
        for (uint32_t d = 0; d < kNodes; ++d)
        {
            double rate = kDemandBps[s][d];
            if (rate <= 0)
            {
                continue;
            }
            OnOffHelper cbr("ns3::UdpSocketFactory", InetSocketAddress(Loopback(d), kSinkPort));
            cbr.SetConstantRate(DataRate(static_cast<uint64_t>(rate)), kPacketBytes);
            cbr.SetAttribute("Local", AddressValue(InetSocketAddress(Loopback(s), 0)));
            ApplicationContainer app = cbr.Install(nodes.Get(s));
            double gap = kPacketBytes * 8.0 / rate; // random phase within one packet gap
            app.Start(Seconds(kTrafficStartS + phase->GetValue(0, gap)));
            app.Stop(Seconds(kTrafficStopS));
        }
    }

    // OSPF-like convergence: cut, detection, SPF + FIB update.
    Simulator::Schedule(Seconds(kCutS), &CutFibre);
    Simulator::Schedule(Seconds(kCutS + kDetectDelayS), &InterfacesDown);
    Simulator::Schedule(Seconds(kCutS + kDetectDelayS + kSpfDelayS + kFibDelayS),
                        &Ipv4GlobalRoutingHelper::RecomputeRoutingTables);

    FlowMonitorHelper flowmon;
    flowmon.SetMonitorAttribute("DelayBinWidth", DoubleValue(0.0001));
    flowmon.SetMonitorAttribute("JitterBinWidth", DoubleValue(0.0001));
    Ptr<FlowMonitor> monitor = flowmon.InstallAll();

    Simulator::Stop(Seconds(kEndS));
    Simulator::Run();
    monitor->CheckForLostPackets();
    monitor->SerializeToXmlFile(outDir + "/flowmon.xml", true, false);
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();
    std::cout << "simulated_s " << Simulator::Now().GetSeconds() << "\n"
              << "events_processed " << Simulator::GetEventCount() << "\n"
              << "wall_s " << wall << "\n";
    Simulator::Destroy();
    return 0;
}
