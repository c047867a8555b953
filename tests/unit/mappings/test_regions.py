from __future__ import annotations

import pytest

from mappings.codes import lookup_region, province_of, region_level, regions, resolve_address_code

PROVINCES = {
    "110000": "北京市", "120000": "天津市", "130000": "河北省", "140000": "山西省",
    "150000": "内蒙古自治区", "210000": "辽宁省", "220000": "吉林省", "230000": "黑龙江省",
    "310000": "上海市", "320000": "江苏省", "330000": "浙江省", "340000": "安徽省",
    "350000": "福建省", "360000": "江西省", "370000": "山东省", "410000": "河南省",
    "420000": "湖北省", "430000": "湖南省", "440000": "广东省", "450000": "广西壮族自治区",
    "460000": "海南省", "500000": "重庆市", "510000": "四川省", "520000": "贵州省",
    "530000": "云南省", "540000": "西藏自治区", "610000": "陕西省", "620000": "甘肃省",
    "630000": "青海省", "640000": "宁夏回族自治区", "650000": "新疆维吾尔自治区", "710000": "台湾省",
    "810000": "香港特别行政区", "820000": "澳门特别行政区",
}  # fmt: skip

SHANDONG_PREFECTURES = {
    "370100": "济南市", "370200": "青岛市", "370300": "淄博市", "370400": "枣庄市", "370500": "东营市",
    "370600": "烟台市", "370700": "潍坊市", "370800": "济宁市", "370900": "泰安市", "371000": "威海市",
    "371100": "日照市", "371300": "临沂市", "371400": "德州市", "371500": "聊城市", "371600": "滨州市",
    "371700": "菏泽市",
}  # fmt: skip

# The MCA list (end of 2020, unchanged since), grouped by prefecture.
SHANDONG_COUNTIES = """
370102 历下区 370103 市中区 370104 槐荫区 370105 天桥区 370112 历城区 370113 长清区
370114 章丘区 370115 济阳区 370116 莱芜区 370117 钢城区 370124 平阴县 370126 商河县
370202 市南区 370203 市北区 370211 黄岛区 370212 崂山区 370213 李沧区 370214 城阳区
370215 即墨区 370281 胶州市 370283 平度市 370285 莱西市
370302 淄川区 370303 张店区 370304 博山区 370305 临淄区 370306 周村区 370321 桓台县
370322 高青县 370323 沂源县
370402 市中区 370403 薛城区 370404 峄城区 370405 台儿庄区 370406 山亭区 370481 滕州市
370502 东营区 370503 河口区 370505 垦利区 370522 利津县 370523 广饶县
370602 芝罘区 370611 福山区 370612 牟平区 370613 莱山区 370614 蓬莱区 370681 龙口市
370682 莱阳市 370683 莱州市 370685 招远市 370686 栖霞市 370687 海阳市
370702 潍城区 370703 寒亭区 370704 坊子区 370705 奎文区 370724 临朐县 370725 昌乐县
370781 青州市 370782 诸城市 370783 寿光市 370784 安丘市 370785 高密市 370786 昌邑市
370811 任城区 370812 兖州区 370826 微山县 370827 鱼台县 370828 金乡县 370829 嘉祥县
370830 汶上县 370831 泗水县 370832 梁山县 370881 曲阜市 370883 邹城市
370902 泰山区 370911 岱岳区 370921 宁阳县 370923 东平县 370982 新泰市 370983 肥城市
371002 环翠区 371003 文登区 371082 荣成市 371083 乳山市
371102 东港区 371103 岚山区 371121 五莲县 371122 莒县
371302 兰山区 371311 罗庄区 371312 河东区 371321 沂南县 371322 郯城县 371323 沂水县
371324 兰陵县 371325 费县 371326 平邑县 371327 莒南县 371328 蒙阴县 371329 临沭县
371402 德城区 371403 陵城区 371422 宁津县 371423 庆云县 371424 临邑县 371425 齐河县
371426 平原县 371427 夏津县 371428 武城县 371481 乐陵市 371482 禹城市
371502 东昌府区 371503 茌平区 371521 阳谷县 371522 莘县 371524 东阿县 371525 冠县
371526 高唐县 371581 临清市
371602 滨城区 371603 沾化区 371621 惠民县 371622 阳信县 371623 无棣县 371625 博兴县
371681 邹平市
371702 牡丹区 371703 定陶区 371721 曹县 371722 单县 371723 成武县 371724 巨野县
371725 郓城县 371726 鄄城县 371728 东明县
"""

BINZHOU = {
    "371602": "滨城区", "371603": "沾化区", "371621": "惠民县", "371622": "阳信县",
    "371623": "无棣县", "371625": "博兴县", "371681": "邹平市",
}  # fmt: skip


def current(prefix: str, level: str) -> dict[str, str]:
    return {
        code: r.name
        for code, r in regions().items()
        if code.startswith(prefix) and r.level == level and not r.historic
    }


def test_all_34_province_level_divisions() -> None:
    assert current("", "province") == PROVINCES


def test_every_shandong_prefecture() -> None:
    assert current("37", "prefecture") == SHANDONG_PREFECTURES


def test_every_shandong_county() -> None:
    words = SHANDONG_COUNTIES.split()
    expected = dict(zip(words[::2], words[1::2], strict=True))
    assert len(expected) == 136
    assert current("37", "county") == expected


def test_every_binzhou_county() -> None:
    assert current("3716", "county") == BINZHOU
    for code, name in BINZHOU.items():
        region = lookup_region(code)
        assert region is not None and region.full_name == f"山东省滨州市{name}"


@pytest.mark.parametrize(
    ("code", "name", "full_name"),
    [
        ("440524", "潮阳县", "广东省汕头市潮阳县"),
        ("110100", "市辖区", "北京市市辖区"),
        ("372300", "滨州地区", "山东省滨州地区"),
        ("372301", "滨州市", "山东省滨州地区滨州市"),
        ("371624", "沾化县", "山东省滨州市沾化县"),
        ("371626", "邹平县", "山东省滨州市邹平县"),
        ("370125", "济阳县", "山东省济南市济阳县"),
        ("371200", "莱芜市", "山东省莱芜市"),
    ],
)
def test_historic_codes_are_kept(code: str, name: str, full_name: str) -> None:
    region = lookup_region(code)
    assert region is not None
    assert (region.name, region.full_name, region.historic) == (name, full_name, True)


def test_current_codes_the_vectors_need() -> None:
    beijing = lookup_region("110105")
    assert beijing is not None and beijing.full_name == "北京市朝阳区" and not beijing.historic
    shantou = lookup_region("440500")
    assert shantou is not None and shantou.full_name == "广东省汕头市"


@pytest.mark.parametrize(
    ("code", "matched"),
    [
        ("371602", "371602"),  # exact, current
        ("440524", "440524"),  # exact, historic
        ("371699", "371600"),  # unknown county of a known prefecture
        ("440599", "440500"),
        ("370000", "370000"),
        ("376000", None),  # unknown prefecture
        ("379900", None),
        ("990000", None),
        ("37160", None),
        ("３７１６０２", None),
    ],
)
def test_address_code_rule(code: str, matched: str | None) -> None:
    region = resolve_address_code(code)
    assert (region.code if region else None) == matched


def test_province_lookup_and_levels() -> None:
    province = province_of("371602")
    assert province is not None and province.name == "山东省"
    assert province_of("99") is None
    assert [region_level(c) for c in ("370000", "371600", "371602")] == ["province", "prefecture", "county"]


def test_table_is_loaded_once_and_read_only() -> None:
    assert regions() is regions()
    with pytest.raises(TypeError):
        regions().entries["999999"] = regions()["370000"]  # type: ignore[index]
    assert all(len(code) == 6 and code.isdigit() for code in regions())
