"""Synthetic Chinese names for the SIMULATOR's population: common surnames and given-name characters,
combined at random. Any resemblance to a real person is chance; no real register was used."""

from __future__ import annotations

import random

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶"
    "阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段"
)
_MALE_CHARS = "伟强磊军洋勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林欢阳建文晨博志远"
_FEMALE_CHARS = "芳娜敏静丽艳娟霞秀英兰玲桂萍红梅琳雪婷倩颖慧莉燕洁月琴蕾瑶悦欣怡佳璐晶"


def synthetic_name(rng: random.Random, *, sex: str) -> str:
    """A surname and one or two given-name characters; `sex` is a GB/T 2261.1 code (1 male, 2 female)."""
    chars = _MALE_CHARS if sex == "1" else _FEMALE_CHARS
    given_length = 1 if rng.random() < 0.3 else 2
    return rng.choice(SURNAMES) + "".join(rng.choice(chars) for _ in range(given_length))
