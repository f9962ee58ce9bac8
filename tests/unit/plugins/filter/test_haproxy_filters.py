"""haproxy_servers filter: stats CSV to server states, errors as AnsibleFilterError."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.lifecycle.plugins.filter.haproxy_servers import haproxy_servers

HEADER = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,"  # noqa: E501
COLUMNS = HEADER[2:].rstrip(",").split(",")


def _row(pxname, svname, status, weight):
    values = dict.fromkeys(COLUMNS, "")
    values.update(pxname=pxname, svname=svname, status=status, weight=str(weight), uweight=str(weight), type="2")
    return ",".join(values[c] for c in COLUMNS) + ","


def test_reads_weights_and_admin_states():
    csv_text = "\n".join(
        [
            HEADER,
            _row("demo", "app1-blue", "UP", 256),
            _row("demo", "app1-green", "MAINT", 0),
            _row("demo", "BACKEND", "UP", 256),
        ]
    )
    assert haproxy_servers(csv_text, "demo") == {
        "app1-blue": {"weight": 256, "admin": "ready"},
        "app1-green": {"weight": 0, "admin": "maint"},
    }


def test_unknown_backend_is_named():
    csv_text = "\n".join([HEADER, _row("demo", "app1-blue", "UP", 256), _row("demo", "BACKEND", "UP", 256)])
    with pytest.raises(
        AnsibleFilterError, match=r"haproxy_servers: backend: no proxy named 'web' in show stat \(backends: demo\)"
    ):
        haproxy_servers(csv_text, "web")


def test_an_absent_backend_gives_no_servers_when_asked():
    csv_text = "\n".join([HEADER, _row("demo", "app1-blue", "UP", 256), _row("demo", "BACKEND", "UP", 256)])
    assert haproxy_servers(csv_text, "orders", absent_ok=True) == {}
    assert haproxy_servers(csv_text, "demo", absent_ok=True) == {"app1-blue": {"weight": 256, "admin": "ready"}}
    with pytest.raises(AnsibleFilterError) as info:
        haproxy_servers(csv_text, "orders")
    assert str(info.value) == "haproxy_servers: backend: no proxy named 'orders' in show stat (backends: demo)"
