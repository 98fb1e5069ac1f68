// ospf_failure/network.h - part of scenario.cc (included in this order: input.h, medium.h, measurement.h, routing.h, network.h, convergence.h, events.h, traffic.h, outputs.h).
//
// The twin's network state (Twin: nodes, links and their counters, routers, CPUs, the
// measurement) and how it is built (BuildNetwork): loopback addresses, point-to-point links
// with DropTail queues, per-link transmit and drop counters, drops by reason, the routers' CPUs.
//
// Uses: input.h, medium.h, measurement.h, routing.h.

#pragma once

namespace
{

struct LinkState
{
    Ptr<PointToPointNetDevice> dev[2];
    uint32_t iface[2];
    uint64_t txPackets[2] = {0, 0}, txBytes[2] = {0, 0}, drops[2] = {0, 0};
    uint64_t tickTx[2] = {0, 0}, tickBytes[2] = {0, 0}, tickDrops[2] = {0, 0};
    int hotTicks[2] = {0, 0};
    double hotSince[2] = {0, 0}; // when the current overflow streak was first observed
    int downCount = 0; // events holding the medium down (a link may be in several)
    bool failed = false;
};

struct Twin
{
    Input in;
    NodeContainer nodes;
    std::vector<LinkState> links;
    std::vector<Ipv4Address> loopback;
    std::vector<std::vector<uint32_t>> incident; // node -> link indices
    std::vector<Cpu> cpus;                       // per node; pps == 0: no CPU model
    std::vector<bool> nodeFailed;
    std::ofstream eventLog, linkSeries, nodeSeries, cascades;
    std::vector<std::pair<double, int>> applied; // (time, event) of every event applied, in time order
    std::map<std::string, uint64_t> drops;       // UDP packets dropped, by reason (see drops.csv)
    // link-state database: what routers know (links down only once detected)
    std::vector<bool> lsdbUp;
    std::vector<uint64_t> lsdbCost;
    std::vector<Ptr<AniRouting>> routing;
    std::vector<double> lastSpf;                     // per router: SPF throttling
    std::vector<double> spfHold;                     // per router: the current (backed-off) hold
    std::vector<bool> spfPending;                    // per router: an SPF run is scheduled
    std::vector<std::vector<uint32_t>> awaiting;     // per router: events its next FIB install covers
    std::map<uint32_t, uint32_t> installsLeft;       // per event: routers still to install
    std::vector<Ptr<CbrSender>> senders;             // per flow
    Measurement* measurement = nullptr;              // per-flow counters (set by InstallTraffic)
};

Ipv4Address
LoopbackAddress(uint32_t node)
{
    return Ipv4Address((10u << 24) | (255u << 16) | (node + 1));
}

/// A /32 "loopback" on a one-port segment: the router's identity. Traffic runs
/// between loopbacks, so it stays reachable while any of the router's links is up.
void
AddLoopback(Ptr<Node> node, Ipv4Address addr)
{
    Ptr<SimpleNetDevice> dev = CreateObject<SimpleNetDevice>();
    dev->SetAddress(Mac48Address::Allocate());
    dev->SetChannel(CreateObject<SimpleChannel>());
    node->AddDevice(dev);
    Ptr<Ipv4> ipv4 = node->GetObject<Ipv4>();
    uint32_t i = ipv4->AddInterface(dev);
    ipv4->AddAddress(i, Ipv4InterfaceAddress(addr, Ipv4Mask("255.255.255.255")));
    ipv4->SetUp(i);
}

void
CountTx(LinkState* l, int side, Ptr<const Packet> p)
{
    ++l->txPackets[side];
    l->txBytes[side] += p->GetSize();
    ++l->tickTx[side];
    l->tickBytes[side] += p->GetSize();
}

/// A dropped frame on a device (`PhyRxDrop`: the medium or a gray failure dropped it).
void
CountDeviceDrop(uint64_t* counter, Ptr<const Packet> p)
{
    *counter += IsUdp(p, true) ? 1 : 0;
}

/// A frame a device queue dropped (full): counted by reason and against its flow.
void
CountQueueDrop(Twin* t, Ptr<const Packet> p)
{
    Ptr<Packet> copy = p->Copy();
    PppHeader ppp;
    copy->RemoveHeader(ppp);
    Ipv4Header ip;
    if (ppp.GetProtocol() != 0x0021 || !copy->RemoveHeader(ip) || ip.GetProtocol() != UdpL4Protocol::PROT_NUMBER)
    {
        return;
    }
    ++t->drops["queue"];
    UdpHeader udp;
    if (t->measurement && copy->PeekHeader(udp))
    {
        t->measurement->CountDrop(ip.GetSource(), ip.GetDestination(), udp.GetSourcePort());
    }
}

/// A packet IP dropped (no route, TTL expired in a micro-loop, interface down, ...): counted by
/// reason, and against its flow (the packet starts with its UDP header).
void
CountIpDrop(Twin* t, const Ipv4Header& h, Ptr<const Packet> p, Ipv4L3Protocol::DropReason reason, Ptr<Ipv4>,
            uint32_t)
{
    std::map<std::string, uint64_t>* drops = &t->drops;
    static const std::map<int, std::string> names = {
        {Ipv4L3Protocol::DROP_TTL_EXPIRED, "ip_ttl_expired"}, {Ipv4L3Protocol::DROP_NO_ROUTE, "ip_no_route"},
        {Ipv4L3Protocol::DROP_BAD_CHECKSUM, "ip_bad_checksum"},
        {Ipv4L3Protocol::DROP_INTERFACE_DOWN, "ip_interface_down"},
        {Ipv4L3Protocol::DROP_ROUTE_ERROR, "ip_route_error"},
        {Ipv4L3Protocol::DROP_FRAGMENT_TIMEOUT, "ip_fragment_timeout"}};
    if (h.GetProtocol() == UdpL4Protocol::PROT_NUMBER)
    {
        auto it = names.find(reason);
        ++(*drops)[it != names.end() ? it->second : "ip_other"];
        UdpHeader udp;
        if (t->measurement && p->PeekHeader(udp))
        {
            t->measurement->CountDrop(h.GetSource(), h.GetDestination(), udp.GetSourcePort());
        }
    }
}

void
CountDrop(LinkState* l, int side, Ptr<const Packet>)
{
    ++l->drops[side];
    ++l->tickDrops[side];
}

/// Routes every packet a router receives through its CPU (when it has one).
void
InstallCpus(Twin& t)
{
    t.cpus.resize(t.in.nodes.size());
    t.nodeFailed.assign(t.in.nodes.size(), false);
    for (uint32_t n = 0; n < t.in.nodes.size(); ++n)
    {
        Cpu& c = t.cpus[n];
        c.basePps = c.pps = t.in.nodeSpecs[n].cpuPps;
        if (c.basePps <= 0)
        {
            continue;
        }
        c.queueLimit = t.in.Param("cpu_queue_packets");
        c.ipv4 = t.nodes.Get(n)->GetObject<Ipv4L3Protocol>();
        for (uint32_t k : t.incident[n])
        {
            int side = t.in.links[k].u == n ? 0 : 1;
            t.links[k].dev[side]->SetReceiveCallback(MakeBoundCallback(&CpuReceive, &c));
        }
    }
}


void
BuildNetwork(Twin& t)
{
    const Input& in = t.in;
    t.nodes.Create(in.nodes.size());
    InternetStackHelper stack;
    stack.SetRoutingHelper(AniRoutingHelper());
    stack.Install(t.nodes);
    t.incident.resize(in.nodes.size());
    for (uint32_t n = 0; n < in.nodes.size(); ++n)
    {
        t.loopback.push_back(LoopbackAddress(n));
        AddLoopback(t.nodes.Get(n), t.loopback.back());
    }
    PointToPointHelper p2p;
    // No flow control: a full device queue drops (tail drop, traced per link) instead of
    // stopping the traffic-control layer, which would drop without saying on which link.
    p2p.DisableFlowControl();
    p2p.SetQueue("ns3::DropTailQueue<Packet>",
                 "MaxSize",
                 QueueSizeValue(QueueSize(QueueSizeUnit::PACKETS,
                                          static_cast<uint32_t>(in.Param("queue_packets")))));
    t.links.resize(in.links.size());
    t.drops["queue"] = 0;
    for (uint32_t k = 0; k < in.links.size(); ++k)
    {
        const LinkSpec& ls = in.links[k];
        p2p.SetDeviceAttribute("DataRate", DataRateValue(DataRate(static_cast<uint64_t>(ls.capacityBps))));
        p2p.SetChannelAttribute("Delay", TimeValue(Seconds(ls.delayS)));
        NetDeviceContainer devs = p2p.Install(t.nodes.Get(ls.u), t.nodes.Get(ls.v));
        LinkState& st = t.links[k];
        uint32_t ends[2] = {ls.u, ls.v};
        for (int side = 0; side < 2; ++side)
        {
            st.dev[side] = DynamicCast<PointToPointNetDevice>(devs.Get(side));
            Ptr<Ipv4> ipv4 = t.nodes.Get(ends[side])->GetObject<Ipv4>();
            st.iface[side] = ipv4->AddInterface(st.dev[side]);
            // link k gets 10.(k / 16384).((k % 16384) / 64).((k % 64) * 4 + side + 1)/30
            uint32_t base = (10u << 24) + k * 4u;
            ipv4->AddAddress(st.iface[side],
                             Ipv4InterfaceAddress(Ipv4Address(base + side + 1), Ipv4Mask("255.255.255.252")));
            ipv4->SetUp(st.iface[side]);
            st.dev[side]->TraceConnectWithoutContext("PhyTxEnd", MakeBoundCallback(&CountTx, &st, side));
            st.dev[side]->GetQueue()->TraceConnectWithoutContext("Drop",
                                                                 MakeBoundCallback(&CountDrop, &st, side));
            // UDP drops by reason, for the conservation check (MacTxDrop is left out: a full
            // queue fires it too, and the queue's own Drop counts those)
            st.dev[side]->GetQueue()->TraceConnectWithoutContext("Drop", MakeBoundCallback(&CountQueueDrop, &t));
            st.dev[side]->TraceConnectWithoutContext("PhyRxDrop",
                                                     MakeBoundCallback(&CountDeviceDrop, &t.drops["medium"]));
            st.dev[side]->TraceConnectWithoutContext("PhyTxDrop",
                                                     MakeBoundCallback(&CountDeviceDrop, &t.drops["phy_tx"]));
            t.incident[ends[side]].push_back(k);
        }
    }
    InstallCpus(t);
    for (uint32_t n = 0; n < in.nodes.size(); ++n)
    {
        t.nodes.Get(n)->GetObject<Ipv4L3Protocol>()->TraceConnectWithoutContext(
            "Drop", MakeBoundCallback(&CountIpDrop, &t));
    }
}

} // namespace
