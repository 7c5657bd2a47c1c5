/* corpus: struct assignment and copy (small and large, by value in calls
 * and returns), nested structs, arrays of structs, unions for type punning
 * (defined in C), bitfields, flexible array members, offsetof/sizeof.
 * status: 0
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct point { int x, y; };
struct rect { struct point a, b; char tag; };
struct big { double d[9]; char name[13]; short s; };
union pun { float f; uint32_t u; unsigned char b[4]; double d; uint64_t q; };
struct flags { unsigned ready : 1, mode : 3, count : 12; signed delta : 6; };
struct msg { uint16_t len; char data[]; };

static struct rect __attribute__((noinline)) grow(struct rect r, int by)
{
    r.a.x -= by; r.a.y -= by; r.b.x += by; r.b.y += by;
    r.tag++;
    return r;
}

static struct big __attribute__((noinline)) make_big(int seed)
{
    struct big b;
    memset(&b, 0, sizeof b);
    for (int i = 0; i < 9; i++)
        b.d[i] = seed * 1.5 + i;
    snprintf(b.name, sizeof b.name, "big-%d", seed);
    b.s = (short)(seed * -3);
    return b;
}

static double sum_big(struct big b)
{
    double s = b.s;
    for (int i = 0; i < 9; i++)
        s += b.d[i];
    b.d[0] = -1;   /* modifies the copy only */
    return s;
}

int main(void)
{
    struct rect r = { { 1, 2 }, { 3, 4 }, 'a' }, r2 = grow(r, 5);
    printf("r=(%d,%d)-(%d,%d)%c r2=(%d,%d)-(%d,%d)%c\n", r.a.x, r.a.y, r.b.x, r.b.y, r.tag,
           r2.a.x, r2.a.y, r2.b.x, r2.b.y, r2.tag);
    struct big b = make_big(7), c;
    c = b;
    c.d[8] = 100;
    printf("big %s s=%d sum=%g copy-sum=%g orig-d0=%g\n", b.name, b.s, sum_big(b), sum_big(c),
           b.d[0]);
    printf("sizes rect=%zu big=%zu pun=%zu flags=%zu msg=%zu off(name)=%zu off(s)=%zu\n",
           sizeof(struct rect), sizeof(struct big), sizeof(union pun), sizeof(struct flags),
           sizeof(struct msg), offsetof(struct big, name), offsetof(struct big, s));
    union pun p;
    p.f = -1.5f;
    printf("pun f=%g u=%08x bytes=%02x %02x %02x %02x\n", p.f, p.u, p.b[0], p.b[1], p.b[2],
           p.b[3]);
    p.d = 1.0 / 3.0;
    printf("pun d=%a q=%016llx\n", p.d, (unsigned long long)p.q);
    struct flags fl = { 1, 5, 4000, -20 };
    fl.count += 100;
    fl.delta -= 15;
    uint32_t raw;
    memcpy(&raw, &fl, 4);
    printf("flags ready=%u mode=%u count=%u delta=%d raw=%08x\n", fl.ready, fl.mode, fl.count,
           fl.delta, raw);
    struct point pts[5];
    for (int i = 0; i < 5; i++)
        pts[i] = (struct point){ i * i, -i };
    struct point sw = pts[1];
    pts[1] = pts[4];
    pts[4] = sw;
    for (int i = 0; i < 5; i++)
        printf("pt%d=(%d,%d) ", i, pts[i].x, pts[i].y);
    printf("\n");
    const char text[] = "flexible member";
    struct msg *m = malloc(sizeof *m + sizeof text);
    m->len = sizeof text;
    memcpy(m->data, text, sizeof text);
    printf("msg len=%u data=%s eq=%d\n", m->len, m->data, memcmp(&r, &r, sizeof r) == 0);
    free(m);
    return 0;
}
