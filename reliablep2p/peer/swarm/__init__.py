"""The swarm: one file from many sources at once, and the chunks of it served while it arrives.

`picker` (which chunk of whom, sans-IO), `crowd` (who fetches what; our downloads under way),
`uploads` (fair upload slots and the rate cap), `upload` (serving one source link), `link` (our
side of one), `engine` (one download from many sources).
"""
