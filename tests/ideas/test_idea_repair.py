"""``core.idea_repair``: what Atelier fixes in an idea itself, one repair at a time, and that a
repaired idea passes the same checks the model's answers face."""

import copy
import math
import random

import pytest
from random_ideas import random_idea, solid

from core import idea_repair
from core import ideas as idea_rules


def test_a_good_idea_is_left_as_it_is(nook):
    assert idea_repair.repair_idea(nook) == (nook, [])


# --------------------------------------------------------------------------- objects


def test_an_exact_copy_of_an_object_is_removed(nook):
    copy_of_chair = dict(copy.deepcopy(nook["objects"][1]), name="Armchair again")
    nook["objects"].append(copy_of_chair)
    repaired, repairs = idea_repair.repair_idea(nook)
    assert [obj["name"] for obj in repaired["objects"]] == [obj["name"] for obj in nook["objects"][:-1]]
    assert repairs == ["1 exact copy(ies) of other objects were removed: 'Armchair again'"]


def test_a_copy_that_differs_in_anything_but_its_name_stays(nook):
    moved = copy.deepcopy(nook["objects"][1])
    moved["location"][0] += 2
    nook["objects"].append(moved)
    assert idea_repair.remove_duplicates(nook) == [] and len(nook["objects"]) == 10


def test_text_wider_than_50_m_is_scaled_down_keeping_its_proportions(nook):
    sign = nook["objects"][7]
    sign.update(body="Quiet please, the readers are reading", scale=[1.2, 4.0, 0.5])
    assert idea_repair.object_size(sign) > idea_repair.MAX_OBJECT_SIZE
    repairs = idea_repair.fit_object_sizes(nook)
    assert idea_repair.MAX_OBJECT_SIZE - 0.1 < idea_repair.object_size(sign) <= idea_repair.MAX_OBJECT_SIZE
    assert sign["scale"][1] / sign["scale"][2] == pytest.approx(8, rel=0.01)  # proportions kept
    assert repairs == ["1 object(s) larger than 50 m across were scaled down to 50 m, keeping their "
                       "proportions: 'Sign' (104 m)"]


def test_a_stray_object_is_pulled_in_to_the_group(nook):
    nook["objects"][5]["location"] = [90, 80, 0.25]  # the globe, far out in the field
    others = copy.deepcopy(nook["objects"][:5] + nook["objects"][6:])
    repairs = idea_repair.gather_objects(nook)
    globe = nook["objects"][5]
    assert math.dist(globe["location"], [0, 0.7, 0.45]) < idea_repair.GATHER_MIN_REACH + 1
    assert nook["objects"][:5] + nook["objects"][6:] == others  # the group stays where it was
    assert repairs == ["1 object(s) far from the rest were pulled in to the group: "
                       "'Globe' (120 m from the middle, now 10 m)"]


def test_a_layout_wider_than_200_m_is_drawn_together_sizes_kept(nook):
    nook["objects"] = [solid("West", [-95, 0, 5], [40, 40, 10]), solid("East", [95, 0, 5], [40, 40, 10]),
                       solid("Middle", [0, 0, 5], [40, 40, 10])]
    assert idea_repair.layout_size(nook["objects"]) == pytest.approx(230)
    repairs = idea_repair.fit_layout(nook)
    assert 195 < idea_repair.layout_size(nook["objects"]) <= idea_repair.MAX_LAYOUT_SIZE
    assert [obj["scale"] for obj in nook["objects"]] == [[40, 40, 10]] * 3
    assert repairs == ["the layout was 230 m across; its spacing was drawn in to 84% so it spans 199 m"]


# --------------------------------------------------------------------------- lights


def test_light_power_is_brought_into_a_sane_range(nook):
    nook["lights"][0]["energy"] = 1000  # a sun in watts
    nook["lights"][1]["energy"] = 0  # a dark point light
    repairs = idea_repair.clamp_light_power(nook)
    assert [light["energy"] for light in nook["lights"]] == [20, 5, 250, 120]
    assert repairs == ["the power of 2 light(s) was brought into a sane range (sun 0.5 to 20 W/m2, "
                       "point/spot/area 5 to 5000 W): lights[0] sun 1000 to 20 W/m2, "
                       "lights[1] point 0 to 5 W"]
    assert idea_rules.semantic_problems(nook) == []


# --------------------------------------------------------------------------- the camera


def _frames_everything(idea):
    camera = idea["camera"]
    return all(idea_rules.framed(camera, obj["location"]) for obj in idea["objects"])


def test_a_camera_looking_away_is_aimed_at_the_layout_from_where_it_stands(nook):
    nook["camera"]["target"] = [0, -20, 1.6]
    assert not _frames_everything(nook)
    repaired, repairs = idea_repair.repair_idea(nook)
    assert _frames_everything(repaired)
    # Aimed from where it stood (a centimetre back gives the frame's margin).
    assert math.dist(repaired["camera"]["location"], nook["camera"]["location"]) < 0.05
    assert repaired["camera"]["target"] == [-0.05, 1.15, 0.9]  # the middle of the layout
    assert idea_rules.semantic_problems(repaired) == []
    assert repairs == ["the camera at (0, -5.5, 1.6) looking at (0, -20, 1.6) did not frame all 9 objects; "
                       "it was aimed at the middle of the layout (-0.05, 1.15, 0.9) and moved to "
                       "(0, -5.51, 1.6)"]


def test_a_camera_too_close_moves_back_along_its_view(nook):
    nook["camera"].update(location=[0, -2.5, 1.2], lens=50)
    repaired, repairs = idea_repair.repair_idea(nook)
    camera = repaired["camera"]
    assert _frames_everything(repaired) and camera["lens"] == 50
    before = [nook["camera"]["location"][i] - camera["target"][i] for i in range(3)]
    after = [camera["location"][i] - camera["target"][i] for i in range(3)]
    assert math.hypot(*after) > math.hypot(*before)
    assert math.degrees(math.acos(sum(a * b for a, b in zip(before, after, strict=True))
                                  / math.hypot(*before) / math.hypot(*after))) < 0.1  # the same line
    assert "and moved to" in repairs[0]


@pytest.mark.parametrize("place, fault", [([-0.6, 0.6, 0.5], "stood inside 'Armchair'"),
                                          ("at its target", "stood on its own target")])
def test_a_camera_inside_an_object_or_on_its_target_is_moved_out(nook, place, fault):
    if place == "at its target":
        nook["camera"]["target"] = nook["camera"]["location"]
    else:
        nook["camera"]["location"] = place  # inside the armchair
    assert idea_rules.semantic_problems(nook)
    repaired, repairs = idea_repair.repair_idea(nook)
    assert idea_rules.semantic_problems(repaired) == []
    assert _frames_everything(repaired)
    assert fault in repairs[0]


def test_a_long_lens_is_widened_when_the_layout_needs_it(nook):
    nook["objects"] = [solid(f"Block {i}", [x, y, 1]) for i, (x, y) in
                       enumerate([(-40, -40), (40, -40), (-40, 40), (40, 40)])]
    nook["camera"].update(lens=300, location=[0, -90, 20], target=[0, 0, 0])
    repaired, repairs = idea_repair.repair_idea(nook)
    assert _frames_everything(repaired) and repaired["camera"]["lens"] < 300
    assert f"the camera's lens was widened from 300 mm to {repaired['camera']['lens']:g} mm" in repairs[-1]
    assert all(abs(v) <= 100 for v in repaired["camera"]["location"])


def test_a_layout_no_camera_inside_the_bounds_can_frame_is_drawn_together(nook):
    corners = [(x, y, z) for x in (-99, 99) for y in (-99, 99) for z in (-99, 99)]
    nook["objects"] = [solid(f"Corner {i}", corner) for i, corner in enumerate(corners)]
    repaired, repairs = idea_repair.repair_idea(nook)
    assert _frames_everything(repaired)
    assert any(r.startswith("the layout's spacing was drawn in to") for r in repairs)
    assert [obj["scale"] for obj in repaired["objects"]] == [[1, 1, 1]] * 8


def test_the_frame_lies_inside_the_cone_the_check_counts_as_seen():
    for lens in (8, 12, 24, 35, 50, 85, 135, 300):
        assert idea_rules.frame_half_angle(lens) < idea_rules.seen_half_angle(lens)


# --------------------------------------------------------------------------- any idea


def test_every_repaired_idea_is_valid_framed_and_needs_no_further_repair():
    rng = random.Random(7)
    for _ in range(300):
        idea, _ = idea_rules.check_idea(random_idea(rng))
        repaired, _ = idea_repair.repair_idea(idea)
        assert idea_rules.check_idea(repaired) == (repaired, [])  # valid as it is: nothing clamped
        assert _frames_everything(repaired) and idea_repair.camera_is_usable(repaired)
        assert idea_repair.layout_size(repaired["objects"]) <= idea_repair.MAX_LAYOUT_SIZE
        assert all(idea_repair.object_size(obj) <= idea_repair.MAX_OBJECT_SIZE for obj in repaired["objects"])
        # What the check still finds is only what the model must fix: objects in one lump.
        assert all("take up mostly the same space" in problem or problem.startswith("...")
                   for problem in idea_rules.semantic_problems(repaired))
        assert idea_repair.repair_idea(repaired) == (repaired, [])
