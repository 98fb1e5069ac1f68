// ospf_failure/medium.h - part of scenario.cc (included in this order: input.h, medium.h, measurement.h, routing.h, network.h, convergence.h, events.h, traffic.h, outputs.h).
//
// What a failure does to the medium and to a router: a cut link drops every packet
// (LinkDownErrorModel), a gray link loses a share and adds delay (GrayErrorModel),
// a router with a CPU model forwards at most its packets per second (Cpu).
//
// Uses: input.h.

#pragma once

namespace
{

/// Drops every packet: a cut fibre or a dead line card, before anybody notices.
class LinkDownErrorModel : public ErrorModel
{
  public:
    static TypeId GetTypeId()
    {
        static TypeId tid = TypeId("ani::LinkDownErrorModel")
                                .SetParent<ErrorModel>()
                                .AddConstructor<LinkDownErrorModel>();
        return tid;
    }

  private:
    bool DoCorrupt(Ptr<Packet>) override
    {
        return true;
    }

    void DoReset() override
    {
    }
};

/// Gray failure: drops a fraction of the packets while the link stays up, so
/// routing never reacts. Its random stream is fixed per link direction, so a
/// run is reproducible whatever else changes.
class GrayErrorModel : public ErrorModel
{
  public:
    static TypeId GetTypeId()
    {
        static TypeId tid =
            TypeId("ani::GrayErrorModel").SetParent<ErrorModel>().AddConstructor<GrayErrorModel>();
        return tid;
    }

    void Configure(double loss, int64_t stream)
    {
        m_loss = loss;
        m_rv = CreateObject<UniformRandomVariable>();
        m_rv->SetStream(stream);
    }

  private:
    bool DoCorrupt(Ptr<Packet>) override
    {
        return m_rv->GetValue() < m_loss;
    }

    void DoReset() override
    {
    }

    double m_loss = 0;
    Ptr<UniformRandomVariable> m_rv;
};

/// Whether a packet (starting with a PPP header when `ppp`) carries UDP: the
/// flows' packets, not the ICMP errors routers send back.
bool
IsUdp(Ptr<const Packet> p, bool ppp)
{
    Ptr<Packet> copy = p->Copy();
    if (ppp)
    {
        PppHeader h;
        copy->RemoveHeader(h);
        if (h.GetProtocol() != 0x0021)
        {
            return false;
        }
    }
    Ipv4Header ip;
    return copy->PeekHeader(ip) && ip.GetProtocol() == UdpL4Protocol::PROT_NUMBER;
}

/// A router's forwarding CPU: every packet the router receives waits in a FIFO
/// of at most cpu_queue_packets and is served at the CPU's current rate (pps
/// packets/s), so a CPU scaled up (scale_cpu) or down (router_overload) serves
/// its backlog at the new rate. Models processing delay, and drops under overload.
struct Cpu
{
    struct Waiting
    {
        Ptr<NetDevice> dev;
        Ptr<const Packet> packet;
        uint16_t protocol;
        Address from;
    };

    double basePps = 0, pps = 0;
    double queueLimit = 1000;
    double busyS = 0; // service time spent in the current monitor interval
    uint64_t drops = 0, intervalDrops = 0, udpDrops = 0;
    std::deque<Waiting> queue; // the packet in service first
    int hotTicks = 0;
    double hotSince = 0; // when the current overload streak was first observed
    Ptr<Ipv4L3Protocol> ipv4;
};

/// The CPU finished the packet at the head of its queue: IP handles it; the next one starts.
void
CpuServe(Cpu* c)
{
    Cpu::Waiting w = c->queue.front();
    c->queue.pop_front();
    c->ipv4->Receive(w.dev, w.packet, w.protocol, w.from, w.dev->GetAddress(), NetDevice::PACKET_HOST);
    if (!c->queue.empty())
    {
        c->busyS += 1.0 / c->pps;
        Simulator::Schedule(Seconds(1.0 / c->pps), &CpuServe, c);
    }
}

bool
CpuReceive(Cpu* c, Ptr<NetDevice> dev, Ptr<const Packet> p, uint16_t protocol, const Address& from)
{
    if (c->queue.size() > c->queueLimit)
    {
        ++c->drops;
        ++c->intervalDrops;
        c->udpDrops += protocol == Ipv4L3Protocol::PROT_NUMBER && IsUdp(p, false) ? 1 : 0;
        return true;
    }
    c->queue.push_back(Cpu::Waiting{dev, p, protocol, from});
    if (c->queue.size() == 1)
    {
        c->busyS += 1.0 / c->pps;
        Simulator::Schedule(Seconds(1.0 / c->pps), &CpuServe, c);
    }
    return true;
}

} // namespace
