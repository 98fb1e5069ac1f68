// Generator of the fixture runs in ../run_fail and ../run_base (see ../README.md).
// Build against the ns3==3.44.post0 wheel; run: ./gen_fixture <outdir> fail|base
#include "ns3/core-module.h"
#include "ns3/network-module.h"
#include "ns3/internet-module.h"
#include "ns3/point-to-point-module.h"
#include "ns3/applications-module.h"
#include "ns3/flow-monitor-module.h"
#include "ns3/traffic-control-module.h"
#include <fstream>
using namespace ns3;
static std::ofstream g_pk, g_ln;
static void OnTx(int f, Ptr<const Packet> p) { g_pk << "tx," << f << "," << p->GetUid() << "," << Simulator::Now().GetNanoSeconds() << "," << p->GetSize() << "\n"; }
static void OnRx(int f, Ptr<const Packet> p, const Address&) { g_pk << "rx," << f << "," << p->GetUid() << "," << Simulator::Now().GetNanoSeconds() << "," << p->GetSize() << "\n"; }
static void OnPhy(std::string l, Ptr<const Packet> p) { g_ln << "tx," << l << "," << p->GetSize() << "\n"; }
static void OnDrop(std::string l, Ptr<const Packet> p) { g_ln << "drop," << l << ",0\n"; }
static void OnQdDrop(std::string l, Ptr<const QueueDiscItem> p) { g_ln << "drop," << l << ",0\n"; }
static void SetLink(Ptr<Node> a, uint32_t ia, Ptr<Node> b, uint32_t ib, bool up) {
  if (up) { a->GetObject<Ipv4>()->SetUp(ia); b->GetObject<Ipv4>()->SetUp(ib); }
  else { a->GetObject<Ipv4>()->SetDown(ia); b->GetObject<Ipv4>()->SetDown(ib); }
}
int main(int argc, char** argv) {
  Config::SetDefault("ns3::Ipv4GlobalRouting::RespondToInterfaceEvents", BooleanValue(false));
  std::string out = argv[1];
  g_pk.open(out + "/packets.csv"); g_ln.open(out + "/linklog.csv");
  NodeContainer n; n.Create(5);
  InternetStackHelper st; st.Install(n);
  PointToPointHelper p;
  Ipv4AddressHelper a;
  struct L { int u, v; const char* rate; const char* delay; };
  L ls[] = {{0,1,"10Mbps","2ms"},{1,2,"2Mbps","5ms"},{0,4,"10Mbps","5ms"},{4,2,"10Mbps","5ms"},{1,3,"10Mbps","1ms"}};
  std::vector<NetDeviceContainer> devs; std::vector<Ipv4InterfaceContainer> ifs;
  for (int i = 0; i < 5; i++) {
    p.SetDeviceAttribute("DataRate", StringValue(ls[i].rate)); p.SetChannelAttribute("Delay", StringValue(ls[i].delay));
    auto d = p.Install(n.Get(ls[i].u), n.Get(ls[i].v)); devs.push_back(d);
    std::ostringstream b; b << "10.0." << i << ".0"; a.SetBase(b.str().c_str(), "255.255.255.252"); ifs.push_back(a.Assign(d));
    for (int k = 0; k < 2; k++) {
      std::ostringstream nm; nm << (k ? ls[i].v : ls[i].u) << "-" << (k ? ls[i].u : ls[i].v);
      d.Get(k)->TraceConnectWithoutContext("PhyTxBegin", MakeBoundCallback(&OnPhy, nm.str()));
      d.Get(k)->GetObject<PointToPointNetDevice>()->GetQueue()->TraceConnectWithoutContext("Drop", MakeBoundCallback(&OnDrop, nm.str()));
      d.Get(k)->TraceConnectWithoutContext("PhyTxDrop", MakeBoundCallback(&OnDrop, nm.str()));
      auto qd = d.Get(k)->GetNode()->GetObject<TrafficControlLayer>()->GetRootQueueDiscOnDevice(d.Get(k));
      if (qd) qd->TraceConnectWithoutContext("Drop", MakeBoundCallback(&OnQdDrop, nm.str()));
    }
  }
  n.Get(0)->GetObject<Ipv4>()->SetMetric(ifs[2].Get(0).second, 5);
  n.Get(4)->GetObject<Ipv4>()->SetMetric(ifs[2].Get(1).second, 5);
  Ptr<RateErrorModel> em = CreateObject<RateErrorModel>(); em->SetAttribute("ErrorRate", DoubleValue(1.0)); em->SetAttribute("ErrorUnit", StringValue("ERROR_UNIT_PACKET"));
  devs[4].Get(1)->SetAttribute("ReceiveErrorModel", PointerValue(em));
  Ipv4GlobalRoutingHelper::PopulateRoutingTables();
  auto flow = [&](int f, Ptr<Node> s, Ptr<Node> dn, Ipv4Address dst, uint16_t port, std::string rate, double t0, double t1) {
    PacketSinkHelper sink("ns3::UdpSocketFactory", InetSocketAddress(Ipv4Address::GetAny(), port));
    auto sa = sink.Install(dn); sa.Start(Seconds(0.5));
    sa.Get(0)->TraceConnectWithoutContext("Rx", MakeBoundCallback(&OnRx, f));
    OnOffHelper oo("ns3::UdpSocketFactory", InetSocketAddress(dst, port));
    oo.SetConstantRate(DataRate(rate), 500);
    auto ca = oo.Install(s); ca.Start(Seconds(t0)); ca.Stop(Seconds(t1));
    ca.Get(0)->TraceConnectWithoutContext("Tx", MakeBoundCallback(&OnTx, f));
  };
  flow(0, n.Get(0), n.Get(2), ifs[1].GetAddress(1), 9001, "1.2Mbps", 1.0, 2.0);
  flow(1, n.Get(3), n.Get(2), ifs[1].GetAddress(1), 9002, "1Mbps", 1.0, 2.0);
  flow(2, n.Get(0), n.Get(3), ifs[4].GetAddress(1), 9003, "200kbps", 1.2, 1.6);
  uint32_t i1 = ifs[1].Get(0).second, i2 = ifs[1].Get(1).second;
  bool fail = std::string(argv[2]) == "fail";
  if (fail) {
  Simulator::Schedule(Seconds(1.4), &SetLink, n.Get(1), i1, n.Get(2), i2, false);
  Simulator::Schedule(Seconds(1.65), &Ipv4GlobalRoutingHelper::RecomputeRoutingTables);
  Simulator::Schedule(Seconds(1.8), &SetLink, n.Get(1), i1, n.Get(2), i2, true);
  Simulator::Schedule(Seconds(1.8), &Ipv4GlobalRoutingHelper::RecomputeRoutingTables);
  }
  FlowMonitorHelper fh; Ptr<FlowMonitor> fm = fh.InstallAll();
  Simulator::Stop(Seconds(3.0)); Simulator::Run();
  fm->SerializeToXmlFile(out + "/flowmon.xml", true, false);
  Simulator::Destroy();
}
