namespace OpenQwen2VL.Curation.Synth;

/// <summary>
/// Draws random scenes. Shapes are placed on a grid of cells inside their region (one shape per cell,
/// jittered inside it), so they never overlap and placement never needs rejection loops.
/// </summary>
public static class SceneSampler
{
    private const float SmallRadius = 0.065f;
    private const float LargeRadius = 0.11f;

    public static Scene Sample(Random rng)
    {
        var shape = Pick(rng, SceneVocabulary.Shapes);
        var color = Pick(rng, SceneVocabulary.ObjectColors);
        var background = Pick(rng, SceneVocabulary.BackgroundColors);
        var position = Pick(rng, SceneVocabulary.Positions);
        var size = rng.Next(2) == 0 ? SceneSize.Small : SceneSize.Large;
        int count = rng.Next(SceneVocabulary.MinCount, SceneVocabulary.MaxCount + 1);
        return new Scene(shape, color, count, position, size, background, Place(rng, position, size, count));
    }

    private static T Pick<T>(Random rng, IReadOnlyList<T> items) => items[rng.Next(items.Count)];

    private static IReadOnlyList<PlacedShape> Place(Random rng, ScenePosition position, SceneSize size, int count)
    {
        // Region (x0, y0, width, height) and grid (cols, rows); every cell is at least 0.25 x 0.25.
        var (x0, y0, w, h, cols, rows) = position switch
        {
            ScenePosition.Left => (0f, 0f, 0.5f, 1f, 2, 3),
            ScenePosition.Right => (0.5f, 0f, 0.5f, 1f, 2, 3),
            ScenePosition.Top => (0f, 0f, 1f, 0.5f, 3, 2),
            ScenePosition.Bottom => (0f, 0.5f, 1f, 0.5f, 3, 2),
            _ => (0.25f, 0.25f, 0.5f, 0.5f, 2, 2),
        };
        float radius = size == SceneSize.Small ? SmallRadius : LargeRadius;
        float cellW = w / cols, cellH = h / rows;
        var cells = Enumerable.Range(0, cols * rows).ToArray();
        rng.Shuffle(cells);
        var placed = new PlacedShape[count];
        for (int i = 0; i < count; i++)
        {
            int col = cells[i] % cols, row = cells[i] / cols;
            float slackX = cellW / 2 - radius, slackY = cellH / 2 - radius;
            float cx = x0 + (col + 0.5f) * cellW + Jitter(rng, slackX);
            float cy = y0 + (row + 0.5f) * cellH + Jitter(rng, slackY);
            placed[i] = new PlacedShape(cx, cy, radius, (float)(rng.NextDouble() * 30 - 15));
        }
        return placed;
    }

    private static float Jitter(Random rng, float slack) => slack <= 0 ? 0 : (float)((rng.NextDouble() * 2 - 1) * slack * 0.8);
}
