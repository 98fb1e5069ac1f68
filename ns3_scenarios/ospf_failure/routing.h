// ospf_failure/routing.h - part of scenario.cc (included in this order: input.h, medium.h, measurement.h, routing.h, network.h, convergence.h, events.h, traffic.h, outputs.h).
//
// Forwarding: AniRouting, the per-router table of equal-cost next hops towards each
// destination router's loopback, consulted per packet (ECMP: a flow hashed onto one).
//
// Uses: input.h, medium.h, measurement.h.

#pragma once

namespace
{

/// OSPF-like forwarding between router loopbacks (10.255.0.0/16): each router
/// holds, per destination router, the interfaces of its equal-cost shortest
/// paths, installed by the twin at that router's own FIB-update time. O(1)
/// lookups (ns-3's global routing scans every route per packet). With ECMP on,
/// a flow (source, destination address pair) always takes the same path.
class AniRouting : public Ipv4RoutingProtocol
{
  public:
    static TypeId GetTypeId()
    {
        static TypeId tid =
            TypeId("ani::AniRouting").SetParent<Ipv4RoutingProtocol>().AddConstructor<AniRouting>();
        return tid;
    }

    struct Hop
    {
        uint32_t iface;
        Ipv4Address gateway;
    };

    /// A router's forwarding table: for destination router d, the equal-cost next hops are
    /// ports[hop[start[d]]] .. ports[hop[start[d + 1] - 1]], in interface order. Compact
    /// (one index and a 2-byte entry per destination and hop), so 5,000 routers of 5,000
    /// destinations each fit in a few hundred MB.
    struct Table
    {
        std::vector<uint32_t> start; // n + 1 offsets into hop (empty: no route anywhere)
        std::vector<uint16_t> hop;   // indices into the router's ports
    };

    /// The router's ports, one per incident link in link order (set once).
    void SetPorts(std::vector<Hop> ports)
    {
        m_ports = std::move(ports);
    }

    void SetTable(Table table, bool ecmp)
    {
        m_table = std::move(table);
        m_ecmp = ecmp;
    }

    void Clear()
    {
        m_table = Table{};
    }

    Ptr<Ipv4Route> RouteOutput(Ptr<Packet>, const Ipv4Header& header, Ptr<NetDevice>,
                               Socket::SocketErrno& err) override
    {
        Ptr<Ipv4Route> route = Lookup(header.GetSource(), header.GetDestination());
        err = route ? Socket::ERROR_NOTERROR : Socket::ERROR_NOROUTETOHOST;
        return route;
    }

    bool RouteInput(Ptr<const Packet> p, const Ipv4Header& header, Ptr<const NetDevice> idev,
                    const UnicastForwardCallback& ucb, const MulticastForwardCallback&,
                    const LocalDeliverCallback& lcb, const ErrorCallback&) override
    {
        uint32_t a = header.GetDestination().Get();
        if ((a & 0xffff0000u) == ((10u << 24) | (255u << 16)) && a != Loopback().Get())
        {
            // another router's loopback (every flow's destination): forward without scanning this
            // router's addresses (IsDestinationAddress copies every one of them, per packet)
            Ptr<Ipv4Route> route = Lookup(header.GetSource(), header.GetDestination());
            if (!route)
            {
                return false; // Ipv4L3Protocol drops it (DROP_NO_ROUTE)
            }
            ucb(route, p, header);
            return true;
        }
        uint32_t iif = m_ipv4->GetInterfaceForDevice(idev);
        if (m_ipv4->IsDestinationAddress(header.GetDestination(), iif))
        {
            if (lcb.IsNull())
            {
                return false;
            }
            lcb(p, header, iif);
            return true;
        }
        Ptr<Ipv4Route> route = Lookup(header.GetSource(), header.GetDestination());
        if (!route)
        {
            return false; // Ipv4L3Protocol drops it (DROP_NO_ROUTE)
        }
        ucb(route, p, header);
        return true;
    }

    void NotifyInterfaceUp(uint32_t) override
    {
    }

    void NotifyInterfaceDown(uint32_t) override
    {
    }

    void NotifyAddAddress(uint32_t, Ipv4InterfaceAddress) override
    {
    }

    void NotifyRemoveAddress(uint32_t, Ipv4InterfaceAddress) override
    {
    }

    void SetIpv4(Ptr<Ipv4> ipv4) override
    {
        m_ipv4 = ipv4;
    }

    void PrintRoutingTable(Ptr<OutputStreamWrapper> stream, Time::Unit) const override
    {
        for (size_t d = 0; d + 1 < m_table.start.size(); ++d)
        {
            for (uint32_t i = m_table.start[d]; i < m_table.start[d + 1]; ++i)
            {
                const Hop& h = m_ports[m_table.hop[i]];
                *stream->GetStream() << "router " << d << " via if " << h.iface << " " << h.gateway << "\n";
            }
        }
    }

  private:
    /// This router's loopback: the address of its first interface after the IPv4 loopback
    /// (AddLoopback adds it before any link), as Lookup's source for unbound sends.
    Ipv4Address Loopback()
    {
        if (m_loopback == Ipv4Address::GetAny())
        {
            m_loopback = m_ipv4->GetAddress(1, 0).GetLocal();
        }
        return m_loopback;
    }

    Ptr<Ipv4Route> Lookup(Ipv4Address src, Ipv4Address dst) const
    {
        uint32_t a = dst.Get();
        if ((a & 0xffff0000u) != ((10u << 24) | (255u << 16)))
        {
            return nullptr;
        }
        uint32_t d = (a & 0xffffu) - 1;
        if (d + 1 >= m_table.start.size() || m_table.start[d] == m_table.start[d + 1])
        {
            return nullptr;
        }
        uint32_t first = m_table.start[d], count = m_table.start[d + 1] - first;
        uint64_t h = (uint64_t(src.Get()) * 0x9E3779B97F4A7C15ull) ^ a;
        const Hop& hop = m_ports[m_table.hop[first + (m_ecmp ? (h >> 17) % count : 0)]];
        if (!m_ipv4->IsUp(hop.iface))
        {
            // the FIB still points at an interface that went down (detected, not yet re-routed):
            // no route, so IP drops the packet with a trace (ns-3 would drop it silently)
            return nullptr;
        }
        Ptr<Ipv4Route> route = Create<Ipv4Route>();
        route->SetDestination(dst);
        route->SetGateway(hop.gateway);
        route->SetSource(src == Ipv4Address::GetAny() ? m_ipv4->GetAddress(1, 0).GetLocal() : src);
        route->SetOutputDevice(m_ipv4->GetNetDevice(hop.iface));
        return route;
    }

    Ptr<Ipv4> m_ipv4;
    Ipv4Address m_loopback = Ipv4Address::GetAny();
    std::vector<Hop> m_ports;
    Table m_table;
    bool m_ecmp = false;
};

class AniRoutingHelper : public Ipv4RoutingHelper
{
  public:
    AniRoutingHelper* Copy() const override
    {
        return new AniRoutingHelper(*this);
    }

    Ptr<Ipv4RoutingProtocol> Create(Ptr<Node>) const override
    {
        return CreateObject<AniRouting>();
    }
};

} // namespace
