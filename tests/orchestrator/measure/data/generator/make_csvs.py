"""Turn gen_fixture.cc per-packet logs into the twin CSVs (see ../README.md)."""
import sys, pandas as pd
run, mode = sys.argv[1], sys.argv[2]
IV = 0.1
EV = 1.4
flows = pd.DataFrame([
  dict(flow=0, src="n0", dst="n2", src_addr="10.0.0.1", dst_addr="10.0.1.2", src_port=49153, dst_port=9001, rate_bps=1.2e6, packet_bytes=500, start_s=1.0, stop_s=2.0),
  dict(flow=1, src="n3", dst="n2", src_addr="10.0.4.2", dst_addr="10.0.1.2", src_port=49153, dst_port=9002, rate_bps=1.0e6, packet_bytes=500, start_s=1.0, stop_s=2.0),
  dict(flow=2, src="n0", dst="n3", src_addr="10.0.0.1", dst_addr="10.0.4.2", src_port=49154, dst_port=9003, rate_bps=2.0e5, packet_bytes=500, start_s=1.2, stop_s=1.6),
])
p = pd.read_csv(f"{run}/packets.csv", names=["k","flow","uid","t","size"])
p["t"] = p.t / 1e9
tx = p[p.k=="tx"].rename(columns={"t":"ts"})[["flow","uid","ts","size"]]
rx = p[p.k=="rx"].rename(columns={"t":"tr"})[["flow","uid","tr"]]
pk = tx.merge(rx, on=["flow","uid"], how="left")
pk["d"] = pk.tr - pk.ts
rows=[]
for f in flows.itertuples():
    g = pk[pk.flow==f.flow]; r = g[g.tr.notna()]
    attempts = round((f.stop_s-f.start_s)*f.rate_bps/(f.packet_bytes*8))
    if f.flow != 0: attempts = len(g)
    rows.append(dict(tx_packets=len(g), tx_failed=attempts-len(g), rx_packets=len(r), rx_bytes=int(r["size"].sum()),
        delay_sum_s=round(r.d.sum(),9), delay_min_s=(round(r.d.min(),9) if len(r) else ""), delay_max_s=(round(r.d.max(),9) if len(r) else "")))
out = pd.concat([flows, pd.DataFrame(rows)], axis=1)
out.to_csv(f"{run}/flows.csv", index=False)
pk["sbin"] = (pk.ts/IV+1e-9).astype(int)
pk["rbin"] = (pk.tr/IV+1e-9).fillna(-1).astype(int)
a = pk.groupby(["flow","sbin"]).agg(tx_packets=("uid","size"), rx_by_send=("tr","count")).rename_axis(["flow","bin"])
b = pk[pk.tr.notna()].groupby(["flow","rbin"]).agg(rx_packets=("uid","size"), rx_bytes=("size","sum"), delay_sum_s=("d","sum")).rename_axis(["flow","bin"])
ts = a.join(b, how="outer").fillna(0).reset_index()
for c in ["tx_packets","rx_by_send","rx_packets","rx_bytes"]: ts[c]=ts[c].astype(int)
ts["delay_sum_s"] = ts.delay_sum_s.round(9)
ts.insert(2, "t_start_s", (ts.bin*IV).round(6))
ts.to_csv(f"{run}/timeseries.csv", index=False)
pr=[]
for f in flows.itertuples():
    g = pk[(pk.flow==f.flow)]
    before = g[(g.ts<EV) & g.tr.notna()]
    after = g[(g.ts>=EV) & g.tr.notna()]
    lb = before.sort_values("ts").tr.iloc[-1] if len(before) else float("nan")
    fa = after.sort_values("ts").iloc[0] if len(after) else None
    pr.append(dict(flow=f.flow, event=0, event_time_s=EV, last_rx_before_s=round(lb,9) if lb==lb else "",
       first_send_after_s=round(fa.ts,9) if fa is not None else "", first_rx_after_s=round(fa.tr,9) if fa is not None else ""))
pd.DataFrame(pr).to_csv(f"{run}/event_probes.csv", index=False)
ev = pd.DataFrame(columns=["time_s","event","event_type","target","phase"])
if mode=="fail":
    ev = pd.DataFrame([(1.4,0,"link_down","l1","inject"),(1.45,0,"link_down","l1","detect"),(1.65,0,"link_down","l1","reconverge"),(1.8,0,"link_down","l1","restore")], columns=ev.columns)
ev.to_csv(f"{run}/events.csv", index=False)
ln = pd.read_csv(f"{run}/linklog.csv", names=["k","dir","size"])
caps = {"0-1":10e6,"1-2":2e6,"0-4":10e6,"4-2":10e6,"1-3":10e6}
ids = {"0-1":"l0","1-2":"l1","0-4":"l2","4-2":"l3","1-3":"l4"}
lr=[]
for key,cap in caps.items():
    u,v = key.split("-")
    for a_,b_ in [(u,v),(v,u)]:
        d = ln[ln.dir==f"{a_}-{b_}"]
        t = d[d.k=="tx"]
        lr.append(dict(link=ids[key], **{"from":f"n{a_}","to":f"n{b_}"}, capacity_bps=cap, tx_packets=len(t), tx_bytes=int(t["size"].sum()), drops=int((d.k=="drop").sum())))
pd.DataFrame(lr).to_csv(f"{run}/links.csv", index=False)
