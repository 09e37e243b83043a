"""The classifier and similarity, on the shipped corpus and messages written apart from it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.app import App, build_extractor
from bot.config import Config
from nlp import LinearModel, ModelClassifier
from nlp.model import digest
from nlp.training import Trainer, load_corpus, shipped_model_path, stratified_folds
from tests.support import Chat, project_config

# Written for these tests, not taken from the corpus: how miners type, hard cases included.
CASES = [
    ("tech_innovation", "给主通风机加个在线监测,手机上就能看振动和温度"),
    ("tech_innovation", "能不能搞个皮带机远程一键启停系统,省得来回跑"),
    ("tech_innovation", "建议研制一套液压支架压力自动采集上传的装置💡"),
    ("process_improvement", "掘进工作面改成锚网索一次支护,少一道工序进尺能快不少"),
    ("process_improvement", "重介旋流器入料压力调高一点,精煤回收率能上去"),
    ("process_improvement", "综采面端头支护顺序调一下 移架跟机更顺"),
    ("repair_reuse", "井下回收复用锚杆,每月能省好几万"),
    ("repair_reuse", "旧托辊别扔了 换个轴承还能用👍"),
    ("repair_reuse", "报废的刮板链拆开,好的链环挑出来重新组装再用,一年省十来万"),
    ("energy_environment", "水泵晚上谷电时段多开,白天峰电少开,电费能降"),
    ("energy_environment", "洗煤厂循环水再处理一下重复用,少排污水"),
    ("energy_environment", "巷道照明换成LED灯,耗电少一半"),
    ("safety", "回风巷瓦斯老是超限,建议加密检测点"),
    ("safety", "顶板破碎的地方要先打超前支护再掘,防止冒顶伤人"),
    ("safety", "皮带机头加装防护栏和急停拉线,人容易被卷进去"),
    ("management", "材料领用搞个台账,谁领的用到哪了都记清楚"),
    ("management", "交接班写个交接记录本,把设备问题交代清楚"),
    ("management", "库存配件每月盘点一次,积压的及时调剂给别的队"),
    ("other", "食堂夜班能不能多做点热饭,下了井饿得慌"),
    ("other", "澡堂热水不够,下班洗澡要排队"),
    ("other", "建议开个职工书屋,下班能看看书"),
]


@pytest.mark.parametrize(("expected", "text"), CASES)
def test_message_lands_in_its_category(
    classifier: ModelClassifier, expected: str, text: str
) -> None:
    assert classifier.classify(text).category == expected


def test_cases_are_not_copied_from_the_corpus() -> None:
    corpus = {text for _, text in load_corpus()}
    assert not [text for _, text in CASES if text in corpus]


def test_corpus_is_big_varied_and_clean() -> None:
    rows = load_corpus()
    counts = Counter(label for label, _ in rows)
    assert len(counts) == 7 and min(counts.values()) >= 100
    texts = [text for _, text in rows]
    assert len(set(texts)) == len(texts)
    lengths = [len(t) for t in texts]
    assert min(lengths) <= 12 and max(lengths) >= 150


def test_shipped_model_was_trained_on_the_shipped_corpus() -> None:
    model = LinearModel.load(shipped_model_path())
    assert model.corpus_sha256 == digest(load_corpus()), "run: jindianzi nlp train --ship"


def test_cross_validated_macro_f1(config: Config) -> None:
    rows = load_corpus()
    folds = stratified_folds([label for label, _ in rows], 5)
    for fold in range(5):  # the folds share no example
        test = {rows[i][1] for i in range(len(rows)) if folds[i] == fold}
        train = {rows[i][1] for i in range(len(rows)) if folds[i] != fold}
        assert test and not test & train
    trainer = Trainer(build_extractor(config), tuple(c.id for c in config.categories))
    report = trainer.cross_validate(rows)
    assert sum(map(sum, report.confusion)) == len(rows)
    assert report.macro_f1 >= 0.85, report.render()


def test_confidence_is_a_probability_ranking(classifier: ModelClassifier) -> None:
    prediction = classifier.classify("井下回收复用锚杆,每月能省好几万")
    assert prediction.ranking[0] == (prediction.category, prediction.confidence)
    assert sum(p for _, p in prediction.ranking) == pytest.approx(1, abs=1e-3)
    assert [c for c, _ in prediction.ranking] == sorted(
        (c for c, _ in prediction.ranking), key=dict(prediction.ranking).__getitem__, reverse=True
    )
    words = dict(classifier.explain("井下回收复用锚杆,每月能省好几万"))
    assert words and all(w > 0 for w in words.values())


@pytest.mark.parametrize(
    "text", ["", "   ", "!!!???", "😀😀👍", "12345", "１２３４５", "hello world, fix the belt"]
)
def test_nothing_known_is_other_with_low_confidence(classifier: ModelClassifier, text: str) -> None:
    prediction = classifier.classify(text)
    assert prediction.category == "other" and prediction.confidence < 0.3


def test_traditional_characters_and_full_width_digits(classifier: ModelClassifier) -> None:
    assert classifier.classify("井下回收復用錨桿,每月能省好幾萬").category == "repair_reuse"
    assert classifier.classify("巷道照明換成ＬＥＤ燈,耗電少一半").category == "energy_environment"
    assert classifier.classify("锚" * 10000).category in {c.id for c in classifier.categories}


async def test_corrections_change_a_later_prediction(tmp_path: Path) -> None:
    from bot import nlp_commands
    from bot.app import build_classifier, load_sample_roster, open_app

    config = project_config(tmp_path / "data" / "j.db")
    text = "九号联络巷那个老风门要换了"
    before = build_classifier(config)
    wrong = before.classify(text).category
    wanted = "safety" if wrong != "safety" else "management"
    async with open_app(config, classifier=before) as app:
        await load_sample_roster(app)
        author = await app.repos.people.by_employee_no("E001")
        assert author is not None
        async with app.repos.db.transaction():
            for n in range(3):
                idea = await app.repos.ideas.add(
                    author=author,
                    text=f"{text}{'!' * n}",
                    category=wrong,
                    confidence=0.5,
                    channel="test",
                    now=app.services.now(),
                )
                await app.repos.ideas.change_category(idea, wanted, author.id, app.services.now())
    path, _, learned = await nlp_commands.train(config, ship=False)
    assert learned == 3 and path == config.storage.data_dir / "nlp-model.npz"
    after = build_classifier(config)
    assert after.classify(text).category == wanted
    report = await nlp_commands.evaluate(config)
    assert "right before training: 0/3" in report and "right after training:  3/3" in report


async def test_similar_ideas_are_named(app: App, chat: Callable[..., Chat]) -> None:
    zhang = chat("u1")
    await zhang.register("E001", "张三")
    await zhang.say("井下回收复用锚杆,每月能省好几万")
    await zhang.say("食堂夜班能不能多做点热饭")
    await zhang.say("主井皮带机托辊坏了别扔,拆下来修好再用")
    reworded = (await zhang.say("建议把井下用过的旧锚杆回收起来复用,一个月能省几万块"))[0]
    assert "相似的金点子:#1 " in reworded
    assert "#2" not in reworded.split("相似的金点子")[1]
    unrelated = (await zhang.say("澡堂热水不够,下班洗澡要排队"))[0]
    assert "相似的金点子" not in unrelated


async def test_low_confidence_asks_the_author_to_pick(
    tmp_path: Path, classifier: ModelClassifier
) -> None:
    from bot.app import load_sample_roster, open_app
    from tests.support import Clock, RecordingTransport, idea_rows

    config = project_config(tmp_path / "j.db", JINDIANZI_NLP_CONFIDENCE_THRESHOLD="1")
    transport = RecordingTransport()
    async with open_app(config, clock=Clock(), classifier=classifier) as app:
        await load_sample_roster(app)
        zhang = Chat(app, transport, app.sender([transport]), "u1")
        await zhang.register("E001", "张三")
        text = "井下回收复用锚杆,每月能省好几万"
        reply = (await zhang.say(text))[0]
        assert "拿不准" in reply and "#1" in reply
        ranking = [c for c, _ in classifier.classify(text).ranking[:3]]
        labels = {c.id: c.label for c in config.categories}
        assert [b["label"] for b in zhang.last_buttons] == [
            *(labels[c] for c in ranking),
            "其他类别…",
            "撤回",
        ]
        await zhang.press(labels[ranking[1]])
        row = (await idea_rows(app.repos))[0]
        assert row["category"] == ranking[1] and row["confirmed"] == 1


async def test_secretary_corrects_a_category_in_their_branch(
    app: App, chat: Callable[..., Chat]
) -> None:
    zhang = chat("u1")
    await zhang.register("E001", "张三")
    await zhang.say("井下回收复用锚杆,每月能省好几万")
    other_secretary = chat("u7")
    await other_secretary.register("S002", "陈书记")  # 洗煤厂, not 张三's branch
    assert "只有作者本人" in (await other_secretary.say("/category 1"))[0]
    denied = await other_secretary.deliver(other_secretary.incoming(callback="i:1:set:safety"))
    assert "不是您提交的" in denied[0]
    secretary = chat("u6")
    await secretary.register("S001", "刘书记")  # 机掘一队, 张三's branch
    assert "请写上金点子的编号" in (await secretary.say("/category abc"))[0]
    assert "没有编号为 #99" in (await secretary.say("/category 99"))[0]
    reply = (await secretary.say("/category #1"))[0]
    assert "现在的类别:修旧利废" in reply
    await secretary.press("节能环保")
    assert await app.repos.ideas.corrections() == [
        ("井下回收复用锚杆,每月能省好几万", "repair_reuse", "energy_environment")
    ]
    assert "不是您提交的" in (await secretary.deliver(secretary.incoming(callback="i:1:wd")))[0]
