"""The stream-latency bench's matching: which final caption carries a phrase's last word, and
where a phrase's last word ends in the audio."""

from __future__ import annotations

import array

from bench.stream_latency_match import Final, caption_of, sound_end

RATE = 16000


def test_the_final_holding_the_last_word_is_the_phrases_caption():
    first_half = Final(10.0, 1_000, 1_900, "Good evening")
    last_words = Final(11.0, 1_900, 2_950, "and welcome")
    assert caption_of(3_000, [first_half, last_words]) == last_words


def test_a_final_that_starts_in_the_pause_after_the_phrase_is_not_its_caption():
    next_phrase = Final(12.0, 3_200, 5_000, "Tonight we look at the budget")
    assert caption_of(3_000, [next_phrase]) is None


def test_a_final_ending_well_before_the_last_word_is_not_its_caption():
    assert caption_of(3_000, [Final(10.0, 1_000, 2_400, "Good evening")]) is None


def test_of_a_phrase_cut_in_two_near_its_end_the_last_piece_is_its_caption():
    most, rest = Final(10.0, 1_000, 2_700, "Good evening and"), Final(11.0, 2_700, 2_950, "welcome")
    assert caption_of(3_000, [most, rest]) == rest


def test_of_two_finals_holding_the_last_word_the_first_to_arrive_counts():
    early, late = Final(11.0, 1_000, 3_000, "a"), Final(11.5, 2_000, 3_000, "b")  # same end
    assert caption_of(3_000, [late, early]) == early


def test_the_sound_ends_at_the_last_loud_10_ms():
    quiet, loud = [0] * (RATE // 2), [8000, -8000] * (RATE // 4)
    pcm = array.array("h", quiet + loud + quiet).tobytes()
    assert sound_end(pcm, RATE, 0.0, 1.5) == 1.0
    assert sound_end(pcm, RATE, 0.0, 0.5) is None
