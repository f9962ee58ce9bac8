# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for module_utils.haproxy: show stat parsing, planning, the socket client."""

from __future__ import annotations

import errno
import os
import re
import shutil
import socket
import tempfile
import threading
import types

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import haproxy
from ansible_collections.fleetops.lifecycle.plugins.module_utils.haproxy import (
    DrainTimeout,
    RuntimeApi,
    RuntimeApiError,
    admin_from_flags,
    admin_state_visible,
    backend_names,
    current_admin_state,
    current_servers,
    drained_candidates,
    is_serving,
    option_view,
    parse_servers_state,
    parse_show_stat,
    plan_server_changes,
    server_rows,
    server_weight,
    sessions,
    verify_applied,
    wait_until_drained,
)
from hypothesis import given, settings
from hypothesis import strategies as st

# `show stat` of HAProxy 2.6 (Debian bookworm) for the lab config in
# roles/loadbalancer: two frontends, backend demo with a blue and a green slot per
# app host. app1/app2 serve blue (app2-blue is 2 s into its 5 s slowstart, so its
# effective weight is 40 of 100), their green slots are `disabled` (MAINT);
# app3-blue is drained with 2 sessions left, app3-green is DOWN. The status, weight
# and uweight columns are the point; the counters are plausible, not measured.
# app3-green's last_chk has a comma so that HAProxy quotes it.
SHOW_STAT = """\
# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_check_status,srid,sess_other,h1sess,h2sess,h3sess,req_other,h1req,h2req,h3req,proto,-,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,
stats,FRONTEND,,,0,3,262117,41,81234,1934521,0,0,0,,,,,OPEN,,,,,,,,,1,2,,,,,0,0,0,4,,,,0,41,0,0,0,0,,0,4,41,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,http,,0,4,41,0,0,0,0,,,0,0,,,,,,,0,,,,,,,,,0,41,0,0,0,41,0,0,,,0,0,0,0,0,0,0,0,0,0,0,0,0,
app,FRONTEND,,,0,3,262117,1287,81234,1934521,0,0,0,,,,,OPEN,,,,,,,,,1,3,,,,,0,0,0,4,,,,0,1292,0,0,0,0,,0,4,1292,,,0,0,0,0,,,,,,,,,,,,,,,,,,,,,http,,0,4,1287,0,0,0,0,,,0,0,,,,,,,0,,,,,,,,,0,1287,0,0,0,1292,0,0,,,0,0,0,0,0,0,0,0,0,0,0,0,0,
demo,app1-blue,0,0,1,4,,402,52662,161604,,0,,0,0,0,0,UP,100,1,0,1,1,3611,0,,1,4,1,,402,,2,0,,3,L7OK,200,1,0,402,0,0,0,0,0,,,,0,0,,,,,2,OK,,0,0,1,3,,,,Layer7 check passed,,2,2,3,,,,10.89.77.11:8081,,http,,,,,,,,0,402,0,,,0,,0,1,9,31,0,0,0,1,1,100,,,1,,,,,,,,,,,,,,,,,,,,,,,,
demo,app1-green,0,0,0,4,,0,0,0,,0,,0,0,0,0,MAINT,0,1,0,0,0,3611,3611,,1,4,2,,0,,2,0,,3,,,,0,0,0,0,0,0,0,,,,0,0,,,,,-1,,,0,0,1,3,,,,,,2,2,0,,,,10.89.77.11:8082,,http,,,,,,,,0,0,0,,,0,,0,1,9,31,0,0,0,0,1,0,,,1,,,,,,,,,,,,,,,,,,,,,,,,
demo,app2-blue,0,0,0,4,,438,57378,176076,,0,,0,0,0,0,UP,40,1,0,1,1,2,0,,1,4,3,40,438,,2,0,,3,L7OK,200,1,0,438,0,0,0,0,0,,,,0,0,,,,,2,OK,,0,0,1,3,,,,Layer7 check passed,,2,2,3,,,,10.89.77.12:8081,,http,,,,,,,,0,438,0,,,0,,0,1,9,31,0,0,0,0,1,100,,,1,,,,,,,,,,,,,,,,,,,,,,,,
demo,app2-green,0,0,0,4,,0,0,0,,0,,0,0,0,0,MAINT,0,1,0,0,0,3611,3611,,1,4,4,,0,,2,0,,3,,,,0,0,0,0,0,0,0,,,,0,0,,,,,-1,,,0,0,1,3,,,,,,2,2,0,,,,10.89.77.12:8082,,http,,,,,,,,0,0,0,,,0,,0,1,9,31,0,0,0,0,1,0,,,1,,,,,,,,,,,,,,,,,,,,,,,,
demo,app3-blue,0,0,2,4,,447,58557,179694,,0,,0,0,0,0,DRAIN,100,1,0,1,1,12,0,,1,4,5,,447,,2,0,,3,L7OK,200,1,0,447,0,0,0,0,0,,,,0,0,,,,,2,OK,,0,0,1,3,,,,Layer7 check passed,,2,2,3,,,,10.89.77.13:8081,,http,,,,,,,,0,447,0,,,0,,0,1,9,31,0,0,0,2,1,100,,,1,,,,,,,,,,,,,,,,,,,,,,,,
demo,app3-green,0,0,0,4,,0,0,0,,0,,0,0,0,0,DOWN,80,1,0,1,1,57,57,,1,4,6,,0,,2,0,,3,L4CON,,,0,0,0,0,0,0,0,,,,0,0,,,,,-1,"Connection refused, at step 1 of tcp-check (connect)",,0,0,1,3,,,,Layer4 connection problem,,2,2,0,,,,10.89.77.13:8082,,http,,,,,,,,0,0,0,,,0,,0,1,9,31,0,0,0,0,1,80,,,1,,,,,,,,,,,,,,,,,,,,,,,,
demo,BACKEND,0,0,3,7,26212,1287,168597,517374,0,0,,0,0,0,0,UP,140,2,0,,0,3611,0,,1,4,0,,1287,,1,0,,4,,,,0,1287,0,0,0,0,,,,1287,0,0,0,0,0,0,2,,,0,0,1,3,,,,,,,,,,,,,,http,roundrobin,,,,0,,,0,1287,0,0,0,,,0,1,9,31,0,,,,,380,0,0,,,,,,,,,,,,,,,,,,,,,,0,,0,

"""  # noqa: E501 (HAProxy writes one long line per row)


# `show servers state demo` of HAProxy 2.6 for the same servers, in the shape the lab
# printed (srv_admin_state 5 is a `disabled` server: forced and configured maintenance).
# app3-green carries the drain flag (8) that its DOWN status hides in show stat.
SHOW_SERVERS_STATE = """\
1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
4 demo 1 app1-blue 10.89.77.11 2 0 100 100 3611 15 3 3 6 0 0 0 - 8081 - 0 0 - - 0
4 demo 2 app1-green 10.89.77.11 0 5 0 0 3611 1 0 0 14 0 0 0 - 8082 - 0 0 - - 0
4 demo 3 app2-blue 10.89.77.12 2 0 100 100 2 15 3 3 6 0 0 0 - 8081 - 0 0 - - 0
4 demo 4 app2-green 10.89.77.12 0 5 0 0 3611 1 0 0 14 0 0 0 - 8082 - 0 0 - - 0
4 demo 5 app3-blue 10.89.77.13 2 8 100 100 12 15 3 3 6 0 0 0 - 8081 - 0 0 - - 0
4 demo 6 app3-green 10.89.77.13 0 8 80 80 57 8 2 0 6 0 0 0 - 8082 - 0 0 - - 0
"""  # noqa: E501 (HAProxy writes one long line per server)


def rows():
    return parse_show_stat(SHOW_STAT)


def admin_states():
    return parse_servers_state(SHOW_SERVERS_STATE, "demo")


def by_name(parsed, svname, pxname="demo"):
    return next(row for row in parsed if row["pxname"] == pxname and row["svname"] == svname)


# --- parse_show_stat ---------------------------------------------------------------


def test_parse_show_stat_reads_every_row_with_header_names():
    parsed = rows()
    assert [(row["pxname"], row["svname"]) for row in parsed] == [
        ("stats", "FRONTEND"),
        ("app", "FRONTEND"),
        ("demo", "app1-blue"),
        ("demo", "app1-green"),
        ("demo", "app2-blue"),
        ("demo", "app2-green"),
        ("demo", "app3-blue"),
        ("demo", "app3-green"),
        ("demo", "BACKEND"),
    ]
    # The '-' separator and the empty column after the trailing comma are dropped.
    assert all("-" not in row and "" not in row for row in parsed)
    assert len(parsed[0]) == 125


def test_parse_show_stat_converts_numbers_and_empties():
    row = by_name(rows(), "app2-blue")
    assert row["scur"] == 0 and row["stot"] == 438 and row["sid"] == 3
    assert row["weight"] == 40 and row["uweight"] == 100 and row["throttle"] == 40
    assert row["check_code"] == 200
    assert row["type"] == 2
    assert row["slim"] is None and row["qlimit"] is None and row["tracked"] is None
    assert row["status"] == "UP" and row["check_status"] == "L7OK"
    assert row["addr"] == "10.89.77.12:8081"
    assert by_name(rows(), "app1-green")["lastsess"] == -1


def test_parse_show_stat_reads_quoted_fields():
    row = by_name(rows(), "app3-green")
    assert row["last_chk"] == "Connection refused, at step 1 of tcp-check (connect)"
    assert row["check_desc"] == "Layer4 connection problem"
    assert row["addr"] == "10.89.77.13:8082"


def test_parse_show_stat_keeps_name_fields_as_text():
    text = "# pxname,svname,scur,status,cookie,\n10,1,3,UP,007,\n"
    assert parse_show_stat(text) == [
        {"pxname": "10", "svname": "1", "scur": 3, "status": "UP", "cookie": "007"}
    ]


def test_parse_show_stat_tolerates_blank_lines_bytes_and_short_rows():
    text = b"\n\n# pxname,svname,scur,status,\ndemo,a1,\n\ndemo,a2,4,UP,\n\n"
    assert parse_show_stat(text) == [
        {"pxname": "demo", "svname": "a1", "scur": None, "status": None},
        {"pxname": "demo", "svname": "a2", "scur": 4, "status": "UP"},
    ]


def test_parse_show_stat_of_nothing_but_a_header_is_empty():
    assert parse_show_stat("# pxname,svname,\n") == []


@pytest.mark.parametrize("reply, shown", [
    ("Permission denied\n\n", "Permission denied"),
    ("Unknown command: 'show stats'. Please enter one of the following commands only :\n",
     "Unknown command: 'show stats'. Please enter one of the following commands only :"),
    ("", ""),
    ("pxname,svname\n", "pxname,svname"),
])
def test_parse_show_stat_without_header_names_what_haproxy_said(reply, shown):
    with pytest.raises(ValueError) as info:
        parse_show_stat(reply)
    assert str(info.value) == "show stat output has no '# pxname,svname,...' header; HAProxy said: %r" % shown


def test_parse_show_stat_rejects_a_line_that_is_not_a_row():
    with pytest.raises(ValueError) as info:
        parse_show_stat("# pxname,svname,\ndemo,a1,\ngarbage\n")
    assert str(info.value) == "show stat line 3 is not a CSV row: 'garbage'"


def test_parse_show_stat_rejects_non_text():
    with pytest.raises(TypeError) as info:
        parse_show_stat(None)
    assert str(info.value) == "show stat output must be text, got NoneType"


# --- rows, states, weights ---------------------------------------------------------


def test_server_rows_are_the_servers_of_one_backend():
    assert [row["svname"] for row in server_rows(rows(), "demo")] == [
        "app1-blue", "app1-green", "app2-blue", "app2-green", "app3-blue", "app3-green",
    ]
    assert server_rows(rows(), "app") == []
    assert server_rows(rows(), "nope") == []


def test_server_rows_skip_listeners():
    parsed = parse_show_stat(
        "# pxname,svname,status,type,\n"
        "demo,FRONTEND,OPEN,0,\ndemo,sock-1,OPEN,3,\ndemo,web1,UP,2,\ndemo,BACKEND,UP,1,\n"
    )
    assert [row["svname"] for row in server_rows(parsed, "demo")] == ["web1"]


def test_backend_names():
    assert backend_names(rows()) == ["demo"]


@pytest.mark.parametrize("status, admin, visible", [
    ("UP", "ready", True),
    ("UP 1/2", "ready", True),
    ("no check", "ready", True),
    ("DOWN", "ready", False),
    ("DOWN 1/2", "ready", False),
    ("DOWN (agent)", "ready", False),
    ("NOLB", "ready", False),
    ("NOLB 1/2", "ready", False),
    ("DRAIN", "drain", True),
    ("DRAIN 1/2", "drain", True),
    ("DRAIN (agent)", "drain", True),
    ("MAINT", "maint", True),
    ("MAINT (via demo/app1-blue)", "maint", True),
    ("MAINT (resolution)", "maint", True),
])
def test_current_admin_state_from_status(status, admin, visible):
    row = {"pxname": "demo", "svname": "app1-blue", "status": status}
    assert current_admin_state(row) == admin
    assert admin_state_visible(row) is visible


def test_current_admin_state_of_the_sample():
    parsed = rows()
    assert [current_admin_state(row) for row in server_rows(parsed, "demo")] == [
        "ready", "maint", "ready", "maint", "drain", "ready",
    ]


@pytest.mark.parametrize("status, message", [
    (None, "server demo/app1-blue has no status in show stat"),
    ("", "server demo/app1-blue has no status in show stat"),
    ("OPEN", "server demo/app1-blue has an unrecognised status 'OPEN' in show stat"),
])
def test_current_admin_state_rejects_unknown_status(status, message):
    with pytest.raises(ValueError) as info:
        current_admin_state({"pxname": "demo", "svname": "app1-blue", "status": status})
    assert str(info.value) == message


def test_server_weight_prefers_the_user_weight():
    # app2-blue is in slowstart: effective weight 40, user weight 100.
    assert server_weight(by_name(rows(), "app2-blue")) == 100
    assert server_weight({"weight": 40, "uweight": None}) == 40
    with pytest.raises(ValueError) as info:
        server_weight({"pxname": "demo", "svname": "x", "weight": None})
    assert str(info.value) == "server demo/x has no numeric weight in show stat"


def test_current_servers_of_the_sample():
    assert current_servers(rows(), "demo") == {
        "app1-blue": {"weight": 100, "admin": "ready"},
        "app1-green": {"weight": 0, "admin": "maint"},
        "app2-blue": {"weight": 100, "admin": "ready"},
        "app2-green": {"weight": 0, "admin": "maint"},
        "app3-blue": {"weight": 100, "admin": "drain"},
        "app3-green": {"weight": 80, "admin": "ready"},
    }


def test_current_servers_take_the_drain_flag_from_show_servers_state():
    assert current_servers(rows(), "demo", admin_states()) == {
        "app1-blue": {"weight": 100, "admin": "ready"},
        "app1-green": {"weight": 0, "admin": "maint"},
        "app2-blue": {"weight": 100, "admin": "ready"},
        "app2-green": {"weight": 0, "admin": "maint"},
        "app3-blue": {"weight": 100, "admin": "drain"},
        "app3-green": {"weight": 80, "admin": "drain"},  # DOWN in show stat
    }


def test_current_servers_name_a_server_show_servers_state_lacks():
    states = admin_states()
    del states["app2-blue"]
    with pytest.raises(ValueError) as info:
        current_servers(rows(), "demo", states)
    assert str(info.value) == (
        "server demo/app2-blue is in show stat but not in show servers state "
        "(servers: app1-blue, app1-green, app2-green, app3-blue, app3-green)"
    )


@pytest.mark.parametrize("flags, admin", [
    (0, "ready"), (0x40, "ready"), (0x08, "drain"), (0x10, "drain"), (0x01, "maint"), (0x02, "maint"),
    (0x20, "maint"), (0x05, "maint"), (0x09, "maint"), (0x48, "drain"),
    (0x04, "ready"), (0x0c, "drain"),  # `disabled` in the configuration, then made ready or drained
])
def test_admin_from_flags(flags, admin):
    assert admin_from_flags(flags) == admin


def test_parse_servers_state_keeps_one_backend():
    other = SHOW_SERVERS_STATE + "5 web 1 web1 10.89.77.21 2 8 1 1 5 15 3 3 6 0 0 0 - 80 - 0 0 - - 0\n"
    assert parse_servers_state(other, "web") == {"web1": "drain"}
    assert parse_servers_state(other.encode(), "demo") == admin_states()
    assert parse_servers_state(other, "none") == {}


@pytest.mark.parametrize("reply, message", [
    ("Can't find backend.\n",
     "show servers state did not answer with a version line and a '# be_id ...' header; "
     "HAProxy said: \"Can't find backend.\\n\""),
    ("1\n# be_id be_name srv_id srv_name\n",
     "show servers state has no srv_admin_state column (header: # be_id be_name srv_id srv_name)"),
    ("1\n# be_id be_name srv_id srv_name srv_admin_state\n4 demo 1 a1\n",
     "show servers state line 3 is not a server line: '4 demo 1 a1'"),
    ("1\n# be_id be_name srv_id srv_name srv_admin_state\n4 demo 1 a1 x\n",
     "show servers state line 3 is not a server line: '4 demo 1 a1 x'"),
])
def test_parse_servers_state_names_what_it_cannot_read(reply, message):
    with pytest.raises(ValueError) as info:
        parse_servers_state(reply, "demo")
    assert str(info.value) == message


def test_current_servers_of_an_unknown_backend_names_the_option():
    with pytest.raises(ValueError) as info:
        current_servers(rows(), "web")
    assert str(info.value) == "backend: no proxy named 'web' in show stat (backends: demo)"


def test_sessions_of_named_servers():
    assert sessions(rows(), "demo", ["app1-blue", "app3-blue", "nope"]) == {
        "app1-blue": 1, "app3-blue": 2,
    }


# --- plan_server_changes: examples ---------------------------------------------------

BLUE_LIVE = {
    "app1-blue": {"weight": 100, "admin": "ready"},
    "app1-green": {"weight": 0, "admin": "maint"},
}


def test_switch_enables_the_target_before_draining_the_old_slot():
    commands, diff = plan_server_changes(
        BLUE_LIVE,
        {"app1-blue": {"state": "drain"}, "app1-green": {"weight": 100, "state": "ready"}},
        "demo",
    )
    assert commands == [
        "set server demo/app1-green weight 100",
        "set server demo/app1-green state ready",
        "set server demo/app1-blue state drain",
    ]
    assert diff == {
        "before": BLUE_LIVE,
        "after": {
            "app1-blue": {"weight": 100, "admin": "drain"},
            "app1-green": {"weight": 100, "admin": "ready"},
        },
    }


def test_canary_raises_the_new_weight_before_lowering_the_old():
    current = {
        "app1-blue": {"weight": 100, "admin": "ready"},
        "app1-green": {"weight": 0, "admin": "ready"},
    }
    commands, _ = plan_server_changes(
        current, {"app1-blue": {"weight": 50}, "app1-green": {"weight": 50}}, "demo"
    )
    assert commands == ["set server demo/app1-green weight 50", "set server demo/app1-blue weight 50"]


def test_phases_run_raise_then_lower_then_retire_across_servers():
    current = {
        "a": {"weight": 100, "admin": "ready"},
        "b": {"weight": 100, "admin": "ready"},
        "c": {"weight": 10, "admin": "drain"},
    }
    commands, _ = plan_server_changes(
        current,
        {"a": {"state": "maint"}, "b": {"weight": 20}, "c": {"weight": 200, "state": "ready"}},
        "be",
    )
    assert commands == [
        "set server be/c weight 200",
        "set server be/c state ready",
        "set server be/b weight 20",
        "set server be/a state maint",
    ]


def test_a_retired_server_never_takes_traffic_on_the_way():
    # maint with weight 100 -> ready with weight 0: weight first, then ready.
    commands, _ = plan_server_changes(
        {"a": {"weight": 100, "admin": "maint"}, "b": {"weight": 1, "admin": "ready"}},
        {"a": {"weight": 0, "state": "ready"}},
        "be",
    )
    assert commands == ["set server be/a weight 0", "set server be/a state ready"]
    # ready with weight 0 -> drain with weight 100: drain first, then the weight.
    commands, _ = plan_server_changes(
        {"a": {"weight": 0, "admin": "ready"}, "b": {"weight": 1, "admin": "ready"}},
        {"a": {"weight": 100, "state": "drain"}},
        "be",
    )
    assert commands == ["set server be/a state drain", "set server be/a weight 100"]


def test_nothing_to_do_plans_no_command():
    commands, diff = plan_server_changes(
        BLUE_LIVE, {"app1-blue": {"weight": 100, "state": "ready"}, "app1-green": {"state": "maint"}}, "demo"
    )
    assert commands == []
    assert diff["before"] == diff["after"] == BLUE_LIVE


def test_partial_entries_keep_the_other_value_and_admin_is_accepted():
    commands, diff = plan_server_changes(BLUE_LIVE, {"app1-green": {"weight": "25"}}, "demo")
    assert commands == ["set server demo/app1-green weight 25"]
    assert diff["after"]["app1-green"] == {"weight": 25, "admin": "maint"}
    commands, _ = plan_server_changes(BLUE_LIVE, {"app1-blue": {"admin": "drain", "state": "drain"}}, "demo")
    assert commands == ["set server demo/app1-blue state drain"]


def test_planning_does_not_touch_its_inputs():
    current = {"a": {"weight": 1, "admin": "ready"}}
    desired = {"a": {"weight": 2, "state": "drain"}}
    plan_server_changes(current, desired, "be")
    assert current == {"a": {"weight": 1, "admin": "ready"}}
    assert desired == {"a": {"weight": 2, "state": "drain"}}


@pytest.mark.parametrize("desired, message", [
    ({"app9-blue": {"weight": 1}},
     "servers.app9-blue: no such server in backend demo (servers: app1-blue, app1-green)"),
    ({"app1-blue": {"weight": 300}},
     "servers.app1-blue.weight: 300 is out of range; HAProxy weights are 0..256"),
    ({"app1-blue": {"weight": -1}},
     "servers.app1-blue.weight: -1 is out of range; HAProxy weights are 0..256"),
    ({"app1-blue": {"weight": "257"}},
     "servers.app1-blue.weight: 257 is out of range; HAProxy weights are 0..256"),
    ({"app1-blue": {"weight": "50%"}},
     "servers.app1-blue.weight: expected an integer 0..256, got '50%' (str)"),
    ({"app1-blue": {"weight": 1.5}},
     "servers.app1-blue.weight: expected an integer 0..256, got 1.5 (float)"),
    ({"app1-blue": {"weight": True}},
     "servers.app1-blue.weight: expected an integer 0..256, got True (bool)"),
    ({"app1-blue": {"state": "paused"}},
     "servers.app1-blue.state: 'paused' is not one of ready, drain, maint"),
    ({"app1-blue": {"state": "READY"}},
     "servers.app1-blue.state: 'READY' is not one of ready, drain, maint"),
    ({"app1-blue": {"admin": "up"}},
     "servers.app1-blue.admin: 'up' is not one of ready, drain, maint"),
    ({"app1-blue": {"state": "drain", "admin": "ready"}},
     "servers.app1-blue: state 'drain' and admin 'ready' disagree"),
    ({"app1-blue": "ready"},
     "servers.app1-blue: expected a mapping with weight and/or state, got 'ready' (str)"),
    ({"app1-blue": None},
     "servers.app1-blue: expected a mapping with weight and/or state, got None (NoneType)"),
    ({"app1-blue": {}}, "servers.app1-blue: give weight and/or state"),
    ({"app1-blue": {"weight": None}}, "servers.app1-blue: give weight and/or state"),
    ({"app1-blue": {"colour": "green"}},
     "servers.app1-blue.colour: unknown key; expected weight and/or state"),
    ({}, "servers: name at least one server of backend demo"),
    (["app1-blue"], "servers: expected a mapping of server name to weight/state, got list"),
])
def test_bad_desired_state_is_rejected_with_option_and_value(desired, message):
    with pytest.raises(ValueError) as info:
        plan_server_changes(BLUE_LIVE, desired, "demo")
    assert str(info.value) == message


@pytest.mark.parametrize("backend", ["de mo", "demo;shutdown", "", None, "a/b"])
def test_backend_names_that_would_break_a_command_are_rejected(backend):
    with pytest.raises(ValueError) as info:
        plan_server_changes(BLUE_LIVE, {"app1-blue": {"weight": 1}}, backend)
    assert str(info.value) == (
        "backend: %r is not a valid HAProxy name (letters, digits, '-', '_', '.', ':')" % (backend,)
    )


def test_option_name_prefixes_the_messages():
    with pytest.raises(ValueError) as info:
        plan_server_changes(BLUE_LIVE, {"x": {"weight": 1}}, "demo", option="pool")
    assert str(info.value).startswith("pool.x: no such server")


# --- plan_server_changes: properties -------------------------------------------------

NAMES = ["a1", "a2", "b1", "b2", "c1"]
COMMAND = re.compile(r"set server be/(\S+) (?:weight (\d+)|state (ready|drain|maint))\Z")
weights = st.one_of(st.sampled_from([0, 1, 100, 256]), st.integers(0, 256))
admins = st.sampled_from(["ready", "drain", "maint"])


@st.composite
def scenarios(draw):
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True))
    current = dict((n, {"weight": draw(weights), "admin": draw(admins)}) for n in names)
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    desired = {}
    for name in chosen:
        entry = draw(st.fixed_dictionaries({}, optional={"weight": weights, "state": admins}))
        if not entry:
            entry = {"weight": draw(weights)}
        desired[name] = entry
    return current, desired


def apply(state, command):
    match = COMMAND.match(command)
    assert match, command
    name, weight, admin = match.groups()
    new = dict((n, dict(s)) for n, s in state.items())
    if weight is not None:
        assert new[name]["weight"] != int(weight), "no-op command %s" % command
        new[name]["weight"] = int(weight)
    else:
        assert new[name]["admin"] != admin, "no-op command %s" % command
        new[name]["admin"] = admin
    return new


def serving(state):
    return set(name for name, s in state.items() if is_serving(s))


@settings(max_examples=500, deadline=None)
@given(scenarios())
def test_applying_the_plan_yields_the_desired_state(scenario):
    current, desired = scenario
    commands, diff = plan_server_changes(current, desired, "be")
    state = current
    for command in commands:
        state = apply(state, command)
    expected = dict((n, dict(s)) for n, s in current.items())
    for name, entry in desired.items():
        if "weight" in entry:
            expected[name]["weight"] = entry["weight"]
        if "state" in entry:
            expected[name]["admin"] = entry["state"]
    assert state == expected == diff["after"]
    assert diff["before"] == current
    # One command per changed field, none for unchanged ones.
    changed = sum(
        (current[n]["weight"] != expected[n]["weight"]) + (current[n]["admin"] != expected[n]["admin"])
        for n in current
    )
    assert len(commands) == changed


@settings(max_examples=500, deadline=None)
@given(scenarios())
def test_the_plan_never_drops_to_zero_serving_capacity(scenario):
    current, desired = scenario
    commands, diff = plan_server_changes(current, desired, "be")
    wanted = serving(current) | serving(diff["after"])
    unwanted = set(current) - wanted
    state, served = current, bool(serving(current))
    for command in commands:
        state = apply(state, command)
        now = serving(state)
        if serving(diff["after"]) and served:
            # Once the backend serves, some server serving before or after keeps
            # serving at every step; only an all-down desired state may empty it.
            assert now & wanted, (commands, command, state)
        # A server that serves neither before nor after never takes traffic.
        assert not now & unwanted, (commands, command, state)
        served = served or bool(now)


def test_every_step_serves_when_all_blue_moves_to_green():
    current = dict(("app%d-blue" % i, {"weight": 100, "admin": "ready"}) for i in (1, 2, 3))
    current.update(("app%d-green" % i, {"weight": 0, "admin": "maint"}) for i in (1, 2, 3))
    desired = dict(("app%d-blue" % i, {"state": "drain"}) for i in (1, 2, 3))
    desired.update(("app%d-green" % i, {"weight": 100, "state": "ready"}) for i in (1, 2, 3))
    commands, _ = plan_server_changes(current, desired, "be")
    state = current
    for command in commands:
        state = apply(state, command)
        assert serving(state)
    assert serving(state) == {"app1-green", "app2-green", "app3-green"}


# --- verify_applied, option_view, drained_candidates ---------------------------------


def test_verify_applied_accepts_what_show_stat_reports():
    assert verify_applied(current_servers(rows(), "demo"), rows(), "demo") == []


def test_verify_applied_reports_weight_state_and_missing_servers():
    expected = {
        "app1-blue": {"weight": 50, "admin": "ready"},
        "app1-green": {"weight": 0, "admin": "ready"},
        "app9": {"weight": 1, "admin": "ready"},
    }
    assert verify_applied(expected, rows(), "demo") == [
        "demo/app1-blue has weight 100, expected 50",
        "demo/app1-green is maint (status 'MAINT'), expected ready",
        "demo/app9 is no longer in show stat",
    ]


def test_verify_applied_skips_drain_show_stat_cannot_show():
    # app3-green is DOWN: a drain flag would not be visible in its status.
    assert verify_applied({"app3-green": {"weight": 80, "admin": "drain"}}, rows(), "demo") == []
    assert verify_applied({"app1-blue": {"weight": 100, "admin": "drain"}}, rows(), "demo") == [
        "demo/app1-blue is ready (status 'UP'), expected drain",
    ]


def test_verify_applied_compares_the_drain_flag_of_a_down_server():
    states = admin_states()
    assert verify_applied({"app3-green": {"weight": 80, "admin": "drain"}}, rows(), "demo", states) == []
    assert verify_applied({"app3-green": {"weight": 80, "admin": "ready"}}, rows(), "demo", states) == [
        "demo/app3-green is drain (status 'DOWN'), expected ready",
    ]


def test_option_view_and_drained_candidates():
    after = {
        "b": {"weight": 0, "admin": "ready"},
        "a": {"weight": 5, "admin": "ready"},
        "c": {"weight": 5, "admin": "maint"},
    }
    assert option_view(after) == {
        "a": {"weight": 5, "state": "ready"},
        "b": {"weight": 0, "state": "ready"},
        "c": {"weight": 5, "state": "maint"},
    }
    assert list(option_view(after)) == ["a", "b", "c"]
    assert drained_candidates(after, ["c", "a", "b"]) == ["b", "c"]


# --- RuntimeApi over a real unix socket ------------------------------------------------


class FakeSocketServer(object):
    """A unix socket that answers like HAProxy's runtime API: one reply per connection."""

    def __init__(self, path, replies, silent=False):
        self.path = path
        self.replies = replies
        self.silent = silent
        self.received = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while not data.endswith(b"\n"):
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.received.append(data)
                if self.silent:
                    conn.recv(1)  # hold the connection until the client gives up
                    continue
                reply = self.replies.get(data.decode().strip(), "Unknown command.\n")
                for start in range(0, len(reply), 1000):  # several segments
                    conn.sendall(reply[start:start + 1000].encode())

    def close(self):
        self.listener.close()


@pytest.fixture
def sockdir():
    # Short path: unix socket paths are limited to about 108 bytes.
    path = tempfile.mkdtemp(prefix="hap")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def fake_haproxy(sockdir):
    server = FakeSocketServer(os.path.join(sockdir, "admin.sock"), {
        "show stat": SHOW_STAT,
        "show servers state demo": SHOW_SERVERS_STATE,
        "show servers state web": "Can't find backend.\n",
        "set server demo/app1-blue weight 50": "\n",
        "set server demo/app9 weight 50": "No such server.\n\n",
        "set server demo/app1-blue state paused": (
            "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n"
        ),
        "set server demo/app1-blue weight 5%": "[3]: No such server.\n\n",
        "set server demo/app1-blue addr 1.2.3.4": (
            "IP changed from '10.89.77.11' to '1.2.3.4' by 'stats socket command'\n\n"
        ),
        "show info": "Permission denied\n\n",
    })
    yield server
    server.close()


def test_command_sends_one_line_and_reads_until_eof(fake_haproxy):
    api = RuntimeApi(fake_haproxy.path, timeout=5)
    assert api.command("show stat") == SHOW_STAT
    assert fake_haproxy.received == [b"show stat\n"]


def test_show_stat_parses_the_reply(fake_haproxy):
    assert RuntimeApi(fake_haproxy.path).show_stat() == rows()


def test_servers_admin_reads_show_servers_state(fake_haproxy):
    assert RuntimeApi(fake_haproxy.path).servers_admin("demo") == admin_states()
    assert fake_haproxy.received == [b"show servers state demo\n"]


def test_servers_admin_of_an_unknown_backend(fake_haproxy):
    with pytest.raises(RuntimeApiError) as info:
        RuntimeApi(fake_haproxy.path).servers_admin("web")
    assert str(info.value) == "HAProxy refused 'show servers state web': Can't find backend."
    with pytest.raises(ValueError) as info:
        RuntimeApi(fake_haproxy.path).servers_admin("demo web")
    assert str(info.value) == "backend: 'demo web' is not a valid HAProxy name (letters, digits, '-', '_', '.', ':')"


def test_set_command_with_empty_reply(fake_haproxy):
    assert RuntimeApi(fake_haproxy.path).command("set server demo/app1-blue weight 50", expect_empty=True) == "\n"


@pytest.mark.parametrize("command, message", [
    ("set server demo/app9 weight 50",
     "HAProxy refused 'set server demo/app9 weight 50': No such server."),
    ("set server demo/app1-blue state paused",
     "HAProxy refused 'set server demo/app1-blue state paused': "
     "'set server <srv> state' expects 'ready', 'drain' and 'maint'."),
    ("set server demo/app1-blue weight 5%",
     "HAProxy refused 'set server demo/app1-blue weight 5%': No such server."),
    ("show info", "HAProxy refused 'show info': Permission denied (the stats socket needs 'level admin')"),
    ("show nothing", "HAProxy refused 'show nothing': Unknown command."),
])
def test_error_replies_are_raised(fake_haproxy, command, message):
    with pytest.raises(RuntimeApiError) as info:
        RuntimeApi(fake_haproxy.path).command(command)
    assert str(info.value) == message


def test_expect_empty_turns_any_reply_into_an_error(fake_haproxy):
    api = RuntimeApi(fake_haproxy.path)
    command = "set server demo/app1-blue addr 1.2.3.4"
    assert api.command(command).startswith("IP changed")
    with pytest.raises(RuntimeApiError) as info:
        api.command(command, expect_empty=True)
    assert str(info.value) == (
        "HAProxy refused %r: IP changed from '10.89.77.11' to '1.2.3.4' by 'stats socket command'" % command
    )


def test_show_stat_with_an_unexpected_reply(sockdir):
    server = FakeSocketServer(os.path.join(sockdir, "s"), {"show stat": "hello\n"})
    try:
        with pytest.raises(RuntimeApiError) as info:
            RuntimeApi(server.path).show_stat()
    finally:
        server.close()
    assert str(info.value) == (
        "unexpected reply to 'show stat' on %s: show stat output has no "
        "'# pxname,svname,...' header; HAProxy said: 'hello'" % server.path
    )


def test_servers_admin_with_an_unexpected_reply(sockdir):
    server = FakeSocketServer(os.path.join(sockdir, "s"), {"show servers state demo": "hello\n"})
    try:
        with pytest.raises(RuntimeApiError) as info:
            RuntimeApi(server.path).servers_admin("demo")
    finally:
        server.close()
    assert str(info.value) == (
        "unexpected reply to 'show servers state demo' on %s: show servers state did not answer with "
        "a version line and a '# be_id ...' header; HAProxy said: 'hello\\n'" % server.path
    )


@pytest.mark.parametrize("command", ["show stat;shutdown frontend app", "show stat\nshow info", "", "  "])
def test_command_must_be_one_line(command):
    with pytest.raises(ValueError) as info:
        RuntimeApi("/nonexistent").command(command)
    assert str(info.value) == "a runtime API command is one line without ';', got %r" % command


def test_missing_socket(sockdir):
    path = os.path.join(sockdir, "missing.sock")
    with pytest.raises(RuntimeApiError) as info:
        RuntimeApi(path).command("show stat")
    assert str(info.value) == (
        "HAProxy runtime API socket %s does not exist; is HAProxy running with "
        "'stats socket %s level admin'?" % (path, path)
    )


def test_stale_socket_refuses(sockdir):
    path = os.path.join(sockdir, "stale.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()  # the file stays, nobody listens
    with pytest.raises(RuntimeApiError) as info:
        RuntimeApi(path).command("show stat")
    assert str(info.value) == (
        "HAProxy runtime API socket %s refused the connection; HAProxy is not running "
        "or the socket file is stale" % path
    )


def test_a_silent_haproxy_times_out(sockdir):
    server = FakeSocketServer(os.path.join(sockdir, "s"), {}, silent=True)
    try:
        with pytest.raises(RuntimeApiError) as info:
            RuntimeApi(server.path, timeout=0.2).command("show stat")
    finally:
        server.close()
    assert str(info.value) == (
        "no complete reply from HAProxy runtime API socket %s within 0.2s to 'show stat'" % server.path
    )


@pytest.mark.parametrize("code, message", [
    (errno.EACCES, "permission denied on HAProxy runtime API socket /s; run the task with become "
                   "or as a member of the socket's group"),
    (errno.ENOTSOCK, "cannot connect to HAProxy runtime API socket /s: [Errno %d] boom" % errno.ENOTSOCK),
])
def test_other_connect_errors(monkeypatch, code, message):
    class Sock(object):
        def __init__(self, *args):
            pass

        def settimeout(self, timeout):
            pass

        def connect(self, path):
            raise OSError(code, "boom")

        def close(self):
            pass

    fake = types.SimpleNamespace(
        socket=Sock, AF_UNIX=socket.AF_UNIX, SOCK_STREAM=socket.SOCK_STREAM, timeout=socket.timeout
    )
    monkeypatch.setattr(haproxy, "socket", fake)
    with pytest.raises(RuntimeApiError) as info:
        RuntimeApi("/s").command("show stat")
    assert str(info.value) == message


# --- wait_until_drained -----------------------------------------------------------------


class ScriptedApi(object):
    """Answers show stat from a list of {server: scur}, repeating the last one."""

    def __init__(self, script):
        self.script = list(script)
        self.calls = 0

    def show_stat(self):
        counts = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        lines = ["# pxname,svname,scur,status,weight,type,"]
        lines += ["demo,%s,%d,DRAIN,100,2," % (name, count) for name, count in sorted(counts.items())]
        return parse_show_stat("\n".join(lines) + "\n")


class FakeClock(object):
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_until_drained_polls_until_no_session_is_left():
    api = ScriptedApi([{"a": 3, "b": 1}, {"a": 1, "b": 0}, {"a": 0, "b": 0}])
    clock = FakeClock()
    assert wait_until_drained(api, "demo", ["a", "b"], 30, clock=clock, sleep=clock.sleep) == {"a": 0, "b": 0}
    assert api.calls == 3
    assert clock.sleeps == [0.5, 0.5]


def test_wait_until_drained_times_out_with_the_counts():
    api = ScriptedApi([{"a": 3, "b": 0}])
    clock = FakeClock()
    with pytest.raises(DrainTimeout) as info:
        wait_until_drained(api, "demo", ["a", "b"], 2, interval=0.5, clock=clock, sleep=clock.sleep)
    assert str(info.value) == "servers still have current sessions after drain_timeout=2s: demo/a=3"
    assert info.value.sessions == {"a": 3, "b": 0}
    assert sum(clock.sleeps) == 2.0
    assert isinstance(info.value, RuntimeApiError)


def test_wait_until_drained_with_nothing_to_wait_for():
    clock = FakeClock()
    assert wait_until_drained(ScriptedApi([{"a": 4}]), "demo", [], 0, clock=clock, sleep=clock.sleep) == {}
    assert clock.sleeps == []
